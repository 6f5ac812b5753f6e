// The remediation policy's engine: the rules as stored (Settings → Remediation policy, or the
// configuration document), and each finding's decision made, recorded on its history with the
// rule's name, and undone when the rule stops matching. A rule only moves open findings whose
// status no person set, and only undoes a status it set itself; severity and push decisions
// apply to any finding. The scoring job calls decide() for each batch it scores (after every
// import, feed load and rule change, and nightly), so decisions follow the facts.
import { readMeta, writeMeta } from "../db/meta.js";
import type { Db, FindingStatus, Severity } from "../db/schema.js";
import { moveFindings, noteFindings } from "../findings/status.js";
import { setPolicyDecision } from "../findings/store.js";
import { SEVERITY_RANK } from "../vuln/severity.js";
import { decisionKey, firstMatch, type PolicyFacts, type PolicyRule, statusOf } from "./rules.js";

const KEY = "policy.rules";

/** The stored rules, with each push_to mapping's id (a rule whose mapping is gone decides nothing). */
export interface LoadedPolicy {
  rules: PolicyRule[];
  mappingIds: Map<string, number>;
}

export async function loadPolicyRules(db: Db): Promise<PolicyRule[]> {
  const value = await readMeta(db, KEY);
  return value ? (JSON.parse(value) as PolicyRule[]) : [];
}

export async function savePolicyRules(db: Db, rules: PolicyRule[]): Promise<void> {
  await writeMeta(db, KEY, JSON.stringify(rules));
}

/** Tracker mappings by name (lower case), for push_to: a name two mappings share is ambiguous. */
export async function mappingsByName(db: Db): Promise<Map<string, number[]>> {
  const rows = await db.selectFrom("tracker_mappings").select(["id", "name"]).execute();
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const key = r.name.toLowerCase();
    out.set(key, [...(out.get(key) ?? []), r.id]);
  }
  return out;
}

/** What is wrong with rules' references to tracker mappings (unknown or ambiguous names). */
export async function mappingProblems(db: Db, rules: PolicyRule[]): Promise<string[]> {
  const byName = await mappingsByName(db);
  const problems: string[] = [];
  for (const r of rules) {
    if (r.action !== "push_to") continue;
    const ids = byName.get(r.mapping.toLowerCase()) ?? [];
    if (ids.length === 0) problems.push(`${r.name}: there is no tracker mapping named "${r.mapping}".`);
    else if (ids.length > 1) problems.push(`${r.name}: ${ids.length} tracker mappings are named "${r.mapping}"; rename one so the rule names one mapping.`);
  }
  return problems;
}

export async function loadPolicy(db: Db, rules?: PolicyRule[]): Promise<LoadedPolicy> {
  const list = rules ?? (await loadPolicyRules(db));
  const mappingIds = new Map<string, number>();
  if (list.some((r) => r.action === "push_to")) {
    for (const [name, ids] of await mappingsByName(db)) if (ids.length === 1) mappingIds.set(name, ids[0]!);
  }
  return { rules: list, mappingIds };
}

/** A finding's policy state as stored. */
export interface PolicyState {
  id: number;
  status: FindingStatus;
  person_status: number;
  severity: Severity;
  policy_rule: string | null;
  policy_undo: string | null;
  policy_push: string | null;
}

/** What the finding's decision restores when undone, with the decision it records. */
interface Undo {
  key: string;
  /** The status the rule moved it from, and to. */
  moved?: { from: FindingStatus; to: FindingStatus };
  /** The severity before the rule's override. */
  severity?: Severity;
}

const parseUndo = (s: PolicyState): Undo | null => (s.policy_rule && s.policy_undo ? (JSON.parse(s.policy_undo) as Undo) : null);

/** The scanner's severity: the one a rule overrode, else the finding's own. */
export const originalSeverity = (s: Pick<PolicyState, "severity" | "policy_undo" | "policy_rule">): Severity =>
  (s.policy_rule && s.policy_undo ? (JSON.parse(s.policy_undo) as Undo).severity : undefined) ?? s.severity;

/** What deciding a batch did (or, in a dry run, would do), by rule. */
export interface PolicyOutcome {
  /** Findings each rule matched. */
  matched: Map<string, number>;
  /** Findings whose decision changes, by rule: applied (or re-applied) and undone. */
  applied: Map<string, number>;
  undone: Map<string, number>;
  /** Some of the findings that change, for a dry run to show. */
  sample: { id: number; rule: string; change: string }[];
}

export const emptyOutcome = (): PolicyOutcome => ({ matched: new Map(), applied: new Map(), undone: new Map(), sample: [] });

const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);

function describe(rule: PolicyRule): string {
  switch (rule.action) {
    case "accept_risk":
      return `risk accepted for ${rule.days} days: ${rule.reason}`;
    case "false_positive":
      return `false positive: ${rule.reason}`;
    case "severity":
      return `severity set to ${rule.severity}`;
    case "no_push":
      return "not pushed to trackers";
    case "push_to":
      return `pushed only to the mapping "${rule.mapping}"`;
  }
}

/**
 * Decides each finding of a batch by the first rule it matches, undoes decisions whose rule no
 * longer matches (or changed), and, unless `dryRun`, writes the changes with their history
 * lines (actor "policy"). Findings and facts go in pairs.
 */
export async function decide(
  db: Db,
  items: { state: PolicyState; facts: PolicyFacts }[],
  policy: LoadedPolicy,
  now: Date,
  opts: { dryRun: boolean; outcome: PolicyOutcome; sampleSize?: number },
): Promise<{ changed: boolean; severities: Map<number, Severity> }> {
  const out = opts.outcome;
  const stamp = now.toISOString();
  const moves: { to: FindingStatus; rule: string; reason: string | null; expiresAt?: string; note: string; findings: PolicyState[] }[] = [];
  const notes: { finding: PolicyState; rule: string; note: string }[] = [];
  const writes: { id: number; set: Parameters<typeof setPolicyDecision>[2] }[] = [];
  const sample = (id: number, rule: string, change: string) => {
    if (out.sample.length < (opts.sampleSize ?? 20)) out.sample.push({ id, rule, change });
  };
  for (const { state, facts } of items) {
    const rule = policy.rules.length ? firstMatch(policy.rules, facts) : undefined;
    const usable = rule && (rule.action !== "push_to" || policy.mappingIds.has(rule.mapping.toLowerCase())) ? rule : undefined;
    if (usable) bump(out.matched, usable.name);
    let have = parseUndo(state);
    if (!have && !usable) continue;
    let status = state.status;
    let severity = state.severity;
    let push = state.policy_push;
    let changed = false;
    // The rule that decided no longer matches, or changed: its decision is undone.
    if (have && (!usable || have.key !== decisionKey(usable))) {
      const name = state.policy_rule!;
      const undid: string[] = [];
      // The status the rule set, while still that and no person changed it, goes back (that move writes its own history line).
      const moved = have.moved && status === have.moved.to && state.person_status === 0 ? have.moved : undefined;
      if (moved) {
        moves.push({ to: moved.from, rule: name, reason: null, note: `Policy rule "${name}" no longer applies: back to ${moved.from}`, findings: [state] });
        status = moved.from;
      }
      if (have.severity && severity !== have.severity) {
        undid.push(`severity back to ${have.severity}`);
        severity = have.severity;
      }
      if (push !== null) {
        undid.push("pushed as assignments say");
        push = null;
      }
      if (undid.length) notes.push({ finding: state, rule: name, note: `Policy rule "${name}" no longer applies: ${undid.join("; ")}` });
      if (moved) undid.unshift(`back to ${moved.from}`);
      bump(out.undone, name);
      sample(state.id, name, `undone: ${undid.join("; ") || "nothing to restore"}`);
      have = null;
      changed = true;
    }
    let next: Undo | null = have;
    if (usable) {
      next = have ?? { key: decisionKey(usable) };
      const ruleStatus = statusOf(usable);
      const applied: string[] = [];
      if (ruleStatus && status === "open" && state.person_status === 0) {
        const expiresAt = usable.action === "accept_risk" ? new Date(now.getTime() + usable.days * 86_400_000).toISOString() : undefined;
        const reason = usable.action === "accept_risk" || usable.action === "false_positive" ? usable.reason : null;
        moves.push({
          to: ruleStatus,
          rule: usable.name,
          reason: `Policy rule "${usable.name}": ${reason}`,
          ...(expiresAt ? { expiresAt } : {}),
          note: `Policy rule "${usable.name}": ${describe(usable)}${expiresAt ? ` (until ${expiresAt.slice(0, 10)})` : ""}`,
          findings: [state],
        });
        next = { ...next, moved: { from: "open", to: ruleStatus } };
        status = ruleStatus;
        applied.push(describe(usable));
      }
      if (usable.action === "severity" && severity !== usable.severity) {
        next = { ...next, severity: next.severity ?? severity };
        applied.push(`severity ${severity} → ${usable.severity}`);
        notes.push({
          finding: state,
          rule: usable.name,
          note: `Policy rule "${usable.name}": severity set to ${usable.severity} (the scanner says ${next.severity})`,
        });
        severity = usable.severity;
      }
      const wantPush =
        usable.action === "no_push" ? "none" : usable.action === "push_to" ? `mapping:${policy.mappingIds.get(usable.mapping.toLowerCase())}` : null;
      if (wantPush !== push) {
        applied.push(describe(usable));
        notes.push({ finding: state, rule: usable.name, note: `Policy rule "${usable.name}": ${describe(usable)}` });
        push = wantPush;
      }
      if (applied.length || !have) {
        bump(out.applied, usable.name);
        sample(state.id, usable.name, applied.join("; ") || "recorded");
        changed = true;
      }
    }
    if (!changed) continue;
    writes.push({
      id: state.id,
      set: {
        policy_rule: usable && next ? usable.name : null,
        policy_undo: usable && next ? JSON.stringify(next) : null,
        policy_push: push,
        ...(severity !== state.severity ? { severity, severity_rank: SEVERITY_RANK[severity] } : {}),
      },
    });
  }
  const severities = new Map(writes.filter((w) => w.set.severity).map((w) => [w.id, w.set.severity!]));
  if (opts.dryRun || (!writes.length && !moves.length)) return { changed: writes.length > 0, severities };
  await db.transaction().execute(async (trx) => {
    for (const w of writes) await setPolicyDecision(trx, w.id, w.set, stamp);
    for (const m of moves)
      await moveFindings(
        trx,
        m.findings,
        {
          to: m.to,
          actor: `policy: ${m.rule}`,
          note: m.note,
          ...(m.reason !== null ? { reason: m.reason } : {}),
          ...(m.expiresAt ? { expiresAt: m.expiresAt } : {}),
        },
        stamp,
      );
    const byRule = new Map<string, { finding: PolicyState; note: string }[]>();
    for (const n of notes) byRule.set(n.rule, [...(byRule.get(n.rule) ?? []), n]);
    for (const [rule, list] of byRule) await noteFindings(trx, list, `policy: ${rule}`, stamp);
  });
  return { changed: true, severities };
}
