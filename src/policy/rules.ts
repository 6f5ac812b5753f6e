// Remediation policy rules: what a team decided once, written down ("we accept dev-only
// transitive lows for 90 days"). A rule is a condition over a finding's facts and an action; the
// first rule that matches decides. Pure: reading rules from a document, checking them, and
// matching a finding's facts — the engine (apply.ts) evaluates and records.
import type { FindingStatus, Severity } from "../db/schema.js";
import { SEVERITIES, SEVERITY_RANK } from "../vuln/severity.js";

export const MAX_POLICY_RULES = 200;
const MAX_TEXT = 200;

/** A numeric range: at least, below (either may be absent). */
export interface Range {
  atLeast?: number;
  below?: number;
}

export interface RuleCondition {
  /** Any of these severities (the scanner's, before any override). */
  severity?: Severity[];
  risk?: Range;
  /** EPSS probability of exploitation (0–1). */
  epss?: Range;
  kev?: boolean;
  /** The dependency's scope in its lockfile: runtime, development, test, optional… */
  scope?: string[];
  dependency?: "direct" | "transitive";
  ecosystem?: string[];
  /** A package name; `*` matches any run of characters. */
  package?: string;
  /** A repository's full name; `*` matches any run of characters. */
  repository?: string;
  /** A topic of the repository. */
  topic?: string;
  /** An owner of the repository's root files (CODEOWNERS). */
  owner?: string;
  /** Days since first detection. */
  age?: Range;
}

export type RuleAction =
  | { action: "accept_risk"; reason: string; days: number }
  | { action: "false_positive"; reason: string }
  | { action: "severity"; severity: Severity }
  | { action: "no_push" }
  | { action: "push_to"; mapping: string };

export type PolicyRule = { name: string; when: RuleCondition } & RuleAction;

/** What a rule's condition is checked against. */
export interface PolicyFacts {
  severity: Severity;
  risk: number;
  epss: number | null;
  kev: boolean;
  scope: string | null;
  direct: boolean | null;
  ecosystem: string | null;
  package: string;
  repository: string | null;
  topics: string[];
  owners: string[];
  ageDays: number;
}

export const ACTIONS: Record<RuleAction["action"], string> = {
  accept_risk: "accept the risk (with a reason, for some days)",
  false_positive: "mark a false positive (with a reason)",
  severity: "set the severity",
  no_push: "do not push to trackers",
  push_to: "push only to one tracker mapping",
};

/** Statuses a rule sets; it only ever moves open findings to them. */
export const statusOf = (rule: RuleAction): FindingStatus | null =>
  rule.action === "accept_risk" ? "risk_accepted" : rule.action === "false_positive" ? "false_positive" : null;

/** A decision's identity: the same rule with the same action and value decides the same. */
export function decisionKey(rule: PolicyRule): string {
  const { name, when: _when, ...action } = rule;
  return JSON.stringify([name, action]);
}

/** `*`-only glob, case-insensitive, in O(pattern × text) at worst (both bounded). */
export function globMatch(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && p[pi] !== "*" && p[pi] === t[ti]) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === "*") {
      star = pi++;
      mark = ti;
    } else if (star !== -1) {
      pi = star + 1;
      ti = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}

const inRange = (value: number, r: Range | undefined) => !r || ((r.atLeast === undefined || value >= r.atLeast) && (r.below === undefined || value < r.below));

export function matches(when: RuleCondition, f: PolicyFacts): boolean {
  if (when.severity && !when.severity.includes(f.severity)) return false;
  if (!inRange(f.risk, when.risk)) return false;
  if (when.epss && (f.epss === null || !inRange(f.epss, when.epss))) return false;
  if (when.kev !== undefined && when.kev !== f.kev) return false;
  if (when.scope && (f.scope === null || !when.scope.includes(f.scope))) return false;
  if (when.dependency && (f.direct === null || (when.dependency === "direct") !== f.direct)) return false;
  if (when.ecosystem && (f.ecosystem === null || !when.ecosystem.includes(f.ecosystem.toLowerCase()))) return false;
  if (when.package !== undefined && !globMatch(when.package, f.package)) return false;
  if (when.repository !== undefined && (f.repository === null || !globMatch(when.repository, f.repository))) return false;
  if (when.topic !== undefined && !f.topics.some((t) => t.toLowerCase() === when.topic!.toLowerCase())) return false;
  if (when.owner !== undefined && !f.owners.some((o) => o.toLowerCase() === when.owner!.toLowerCase())) return false;
  if (!inRange(f.ageDays, when.age)) return false;
  return true;
}

/** The first rule whose condition the finding meets. */
export function firstMatch(rules: PolicyRule[], f: PolicyFacts): PolicyRule | undefined {
  return rules.find((r) => matches(r.when, f));
}

const CONDITION_KEYS = ["severity", "risk", "epss", "kev", "scope", "dependency", "ecosystem", "package", "repository", "topic", "owner", "age"];

/**
 * Reads rules from a parsed document (the configuration's `policy.rules`, or the policy page's
 * YAML): the rules, or every problem with where it is. Mapping names are checked by the caller.
 */
export function readRules(value: unknown): { rules: PolicyRule[]; errors: string[] } {
  const errors: string[] = [];
  const rules: PolicyRule[] = [];
  if (value === undefined || value === null) return { rules, errors };
  if (!Array.isArray(value)) return { rules, errors: ["The rules are a list: each item starts with “- name:”."] };
  if (value.length > MAX_POLICY_RULES) errors.push(`At most ${MAX_POLICY_RULES} rules.`);
  const names = new Set<string>();
  value.slice(0, MAX_POLICY_RULES).forEach((raw, i) => {
    const at = `Rule ${i + 1}`;
    const problem = (text: string) => errors.push(`${at}: ${text}`);
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) return problem("is not a rule (name, when, action).");
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r))
      if (!["name", "when", "action", "reason", "days", "severity", "mapping"].includes(key)) problem(`has "${key.slice(0, 40)}", which a rule does not take.`);
    const name = typeof r.name === "string" ? r.name.trim() : "";
    if (!name || name.length > MAX_TEXT || /[\u0000-\u001f]/.test(name)) return problem(`needs a name of at most ${MAX_TEXT} characters.`);
    if (names.has(name.toLowerCase())) problem(`"${name}" is the name of an earlier rule: names are unique.`);
    names.add(name.toLowerCase());
    const when = readCondition(r.when, (text) => problem(`(${name}) ${text}`));
    const action = readAction(r, (text) => problem(`(${name}) ${text}`));
    if (when && action) rules.push({ name, when, ...action });
  });
  return { rules: errors.length ? [] : rules, errors };
}

function readCondition(value: unknown, problem: (text: string) => void): RuleCondition | undefined {
  if (value === undefined) return {};
  if (!value || typeof value !== "object" || Array.isArray(value)) return void problem("when: is a set of conditions (severity, risk, epss, kev, scope…).");
  const w = value as Record<string, unknown>;
  const out: RuleCondition = {};
  for (const key of Object.keys(w)) if (!CONDITION_KEYS.includes(key)) problem(`when: has "${key.slice(0, 40)}"; conditions are ${CONDITION_KEYS.join(", ")}.`);
  const list = (key: string, allowed?: readonly string[]): string[] | undefined => {
    const v = w[key];
    if (v === undefined) return undefined;
    const items = Array.isArray(v) ? v : [v];
    if (!items.length || items.length > 20 || items.some((x) => typeof x !== "string" || !x || x.length > MAX_TEXT))
      return void problem(`when.${key} is a value or a list of values.`);
    const lower = (items as string[]).map((x) => x.toLowerCase());
    const unknown = allowed ? lower.filter((x) => !allowed.includes(x)) : [];
    if (unknown.length) return void problem(`when.${key}: "${unknown[0]!.slice(0, 40)}" is not one of ${allowed!.join(", ")}.`);
    return lower;
  };
  const range = (key: string, max: number): Range | undefined => {
    const v = w[key];
    if (v === undefined) return undefined;
    const ok = (n: unknown) => n === undefined || (typeof n === "number" && Number.isFinite(n) && n >= 0 && n <= max);
    if (!v || typeof v !== "object" || Array.isArray(v) || Object.keys(v).some((k) => k !== "atLeast" && k !== "below"))
      return void problem(`when.${key} is a range: atLeast and/or below.`);
    const r = v as Range;
    if (!ok(r.atLeast) || !ok(r.below) || (r.atLeast === undefined && r.below === undefined))
      return void problem(`when.${key}: atLeast and below are numbers from 0 to ${max}.`);
    return r;
  };
  const text = (key: string): string | undefined => {
    const v = w[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || !v.trim() || v.length > MAX_TEXT) return void problem(`when.${key} is a text of at most ${MAX_TEXT} characters.`);
    return v.trim();
  };
  const severity = list("severity", SEVERITIES);
  if (severity) out.severity = severity as Severity[];
  const risk = range("risk", 100);
  if (risk) out.risk = risk;
  const epss = range("epss", 1);
  if (epss) out.epss = epss;
  if (w.kev !== undefined) {
    if (typeof w.kev !== "boolean") problem("when.kev is true or false.");
    else out.kev = w.kev;
  }
  const scope = list("scope");
  if (scope) out.scope = scope;
  if (w.dependency !== undefined) {
    if (w.dependency !== "direct" && w.dependency !== "transitive") problem("when.dependency is direct or transitive.");
    else out.dependency = w.dependency;
  }
  const ecosystem = list("ecosystem");
  if (ecosystem) out.ecosystem = ecosystem;
  for (const key of ["package", "repository", "topic", "owner"] as const) {
    const v = text(key);
    if (v !== undefined) out[key] = v;
  }
  const age = range("age", 36_500);
  if (age) out.age = age;
  return out;
}

function readAction(r: Record<string, unknown>, problem: (text: string) => void): RuleAction | undefined {
  const reason = typeof r.reason === "string" ? r.reason.trim() : "";
  const needReason = () => {
    if (!reason || reason.length > 1000) problem("needs a reason (at most 1,000 characters): it goes on each finding's history.");
    return Boolean(reason) && reason.length <= 1000;
  };
  switch (r.action) {
    case "accept_risk": {
      const days = r.days;
      if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > 366) {
        problem("accept_risk needs days: a whole number from 1 to 366 (how long each acceptance lasts before it is reviewed).");
        return undefined;
      }
      return needReason() ? { action: "accept_risk", reason, days } : undefined;
    }
    case "false_positive":
      return needReason() ? { action: "false_positive", reason } : undefined;
    case "severity": {
      const s = typeof r.severity === "string" ? r.severity.toLowerCase() : "";
      if (!(s in SEVERITY_RANK)) return void problem(`severity needs severity: one of ${SEVERITIES.join(", ")}.`);
      return { action: "severity", severity: s as Severity };
    }
    case "no_push":
      return { action: "no_push" };
    case "push_to": {
      const mapping = typeof r.mapping === "string" ? r.mapping.trim() : "";
      if (!mapping || mapping.length > MAX_TEXT) return void problem("push_to needs mapping: the name of a tracker mapping.");
      return { action: "push_to", mapping };
    }
    default:
      return void problem(`action is one of ${Object.keys(ACTIONS).join(", ")}.`);
  }
}

/** Rules as the document writes them (the reverse of readRules). */
export function writeRules(rules: PolicyRule[]): Record<string, unknown>[] {
  return rules.map(({ name, when, ...action }) => ({ name, ...(Object.keys(when).length ? { when } : {}), ...action }));
}
