// CVSS base scores from vector strings (v3.0/v3.1 and v2), for scanners and advisories that
// give a vector but no score or severity, and the qualitative rating of a score.
import type { Severity } from "../db/schema.js";

function metrics(vector: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of vector.replace(/^\(|\)$/g, "").split("/")) {
    const [key, value] = part.split(":");
    if (key && value) out.set(key, value);
  }
  return out;
}

/** CVSS v3.1's Roundup: the smallest one-decimal number not below x, free of float error. */
function roundUp(x: number): number {
  const n = Math.round(x * 100_000);
  return n % 10_000 === 0 ? n / 100_000 : (Math.floor(n / 10_000) + 1) / 10;
}

function cvss3(m: Map<string, string>): number | null {
  const av = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 }[m.get("AV") ?? ""];
  const ac = { L: 0.77, H: 0.44 }[m.get("AC") ?? ""];
  const ui = { N: 0.85, R: 0.62 }[m.get("UI") ?? ""];
  const scope = m.get("S");
  const changed = scope === "C";
  const pr = { N: 0.85, L: changed ? 0.68 : 0.62, H: changed ? 0.5 : 0.27 }[m.get("PR") ?? ""];
  const cia = ["C", "I", "A"].map((k) => ({ H: 0.56, L: 0.22, N: 0 })[m.get(k) ?? ""]);
  if (av === undefined || ac === undefined || ui === undefined || pr === undefined || (scope !== "U" && scope !== "C") || cia.some((v) => v === undefined)) return null;
  const [c, i, a] = cia as number[];
  const iss = 1 - (1 - c!) * (1 - i!) * (1 - a!);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  return roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

function cvss2(m: Map<string, string>): number | null {
  const av = { L: 0.395, A: 0.646, N: 1 }[m.get("AV") ?? ""];
  const ac = { H: 0.35, M: 0.61, L: 0.71 }[m.get("AC") ?? ""];
  const au = { M: 0.45, S: 0.56, N: 0.704 }[m.get("Au") ?? ""];
  const cia = ["C", "I", "A"].map((k) => ({ N: 0, P: 0.275, C: 0.66 })[m.get(k) ?? ""]);
  if (av === undefined || ac === undefined || au === undefined || cia.some((v) => v === undefined)) return null;
  const [c, i, a] = cia as number[];
  const impact = 10.41 * (1 - (1 - c!) * (1 - i!) * (1 - a!));
  const exploitability = 20 * av * ac * au;
  const score = (0.6 * impact + 0.4 * exploitability - 1.5) * (impact === 0 ? 0 : 1.176);
  return Math.round(score * 10) / 10;
}

/**
 * The base score of a CVSS vector ("CVSS:3.1/AV:N/…" or a v2 "AV:N/AC:L/Au:N/C:P/I:P/A:P"),
 * or null for a vector it cannot score (v4 vectors, which need the v4 lookup tables, among them).
 */
export function cvssBaseScore(vector: string): number | null {
  const version = /^CVSS:(\d(?:\.\d)?)\//.exec(vector)?.[1];
  const m = metrics(vector.replace(/^CVSS:[\d.]+\//, ""));
  if (version === "3.0" || version === "3.1") return cvss3(m);
  if (!version && m.has("Au")) return cvss2(m);
  return null;
}

/** The qualitative rating of a CVSS v3 score (v2 scores read the same way, without critical above 9). */
export function severityOfScore(score: number): Severity {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  if (score > 0) return "low";
  return "info";
}
