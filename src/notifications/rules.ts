// Which events reach which notifier: the rule fields every notifier's form carries (event
// kinds, a minimum severity for new findings, an optional list of integrations), and the
// matching of an outbox event against them.
import { RULE_FIELDS } from "../connectors/notifier.js";
import type { SettingValues } from "../connectors/types.js";
import type { Severity } from "../db/schema.js";
import { SEVERITIES, SEVERITY_RANK } from "../findings/normalize.js";

export type Rule = "integration" | "scan" | "push" | "findings" | "merged" | "sla" | "kev";
export { RULE_FIELDS };

const RULE_SETTING: Record<Rule, string> = {
  integration: "notifyIntegrationFailed",
  scan: "notifyScanFailed",
  push: "notifyPushFailed",
  findings: "notifyNewFindings",
  merged: "notifyRemediationMerged",
  sla: "notifySlaApproaching",
  kev: "notifyKevEntered",
};

const RULE_OF: Record<string, Rule> = {
  "integration.failed": "integration",
  "integration.warning": "integration",
  "scan.failed": "scan",
  "ticket.push_failed": "push",
  "findings.new": "findings",
  "remediation.merged": "merged",
  "sla.approaching": "sla",
  "findings.kev": "kev",
};

export interface OutboxEvent {
  id: number;
  type: string;
  payload: Record<string, unknown>;
}

/**
 * The rule an event falls under for a notifier with these settings, or undefined when it does
 * not go there. `sourceIntegration` is the integration the event is about.
 */
export function ruleFor(settings: SettingValues, event: OutboxEvent, sourceIntegration: number | undefined): Rule | undefined {
  const rule = RULE_OF[event.type];
  if (!rule) return undefined;
  const setting = settings[RULE_SETTING[rule]];
  const defaultOn = RULE_FIELDS.find((f) => f.name === RULE_SETTING[rule])!.defaultChecked === true;
  if (!(typeof setting === "boolean" ? setting : defaultOn)) return undefined;
  const only = String(settings.onlyIntegrations ?? "")
    .split(",")
    .filter(Boolean)
    .map(Number);
  if (only.length && (sourceIntegration === undefined || !only.includes(sourceIntegration))) return undefined;
  if (rule === "findings") {
    const counts = event.payload.counts as Record<Severity, number>;
    if (!SEVERITIES.some((s) => SEVERITY_RANK[s] >= SEVERITY_RANK[minSeverity(settings)] && (counts[s] ?? 0) > 0)) return undefined;
  }
  return rule;
}

export function minSeverity(settings: SettingValues): Severity {
  const value = settings.minSeverity;
  return typeof value === "string" && (SEVERITIES as string[]).includes(value) ? (value as Severity) : "high";
}
