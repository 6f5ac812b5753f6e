// The finding's identity and ordering. The fingerprint is documented in the README:
// sha256 of "CVE | package key | installed version | asset key", the package key being the
// name as its ecosystem compares it (vuln/packages.ts: PEP 503 for PyPI…), so the same
// vulnerability reported by two scanners becomes one finding with two sources.
import { hash } from "node:crypto";
import type { FindingStatus } from "../db/schema.js";
import { SEVERITIES, SEVERITY_RANK } from "../vuln/severity.js";

export { SEVERITIES, SEVERITY_RANK };

export const STATUSES: FindingStatus[] = ["open", "in_remediation", "resolved", "risk_accepted", "false_positive"];
export const STATUS_LABEL: Record<FindingStatus, string> = {
  open: "Open",
  in_remediation: "In remediation",
  resolved: "Resolved",
  risk_accepted: "Risk accepted",
  false_positive: "False positive",
};

/** SHA-256 hex; node's native hash, since imports hash every record of every scan. */
export function hashText(text: string): string {
  // One call, no Hash object: an import hashes two texts a record.
  return hash("sha256", text, "hex");
}

/** The finding's identity; `packageKey` as vuln/packages.ts gives it (already lower case). */
export function fingerprint(cve: string, packageKey: string, installedVersion: string, assetKey: string): string {
  return hashText(`${cve.toUpperCase()}|${packageKey.toLowerCase()}|${installedVersion}|${assetKey}`);
}
