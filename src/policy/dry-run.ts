// What remediation policy rules would do before they are saved: the dry run's result as the
// policy page and the configuration import show it, and the proposal it belongs to.
import { proposalStore } from "../db/proposals.js";
import { jobKind } from "../jobs/queue.js";
import type { PolicyRule } from "./rules.js";

export interface PolicyDryRun {
  /** Findings evaluated (every finding Patchbay has). */
  findings: number;
  /** By rule, in order (and rules whose decisions would be undone): findings matched, decided anew, undone. */
  rules: { name: string; matched: number; applied: number; undone: number }[];
  /** Some findings that would change, with the rule and the change. */
  sample: { id: number; rule: string; change: string }[];
}

/** Rules an admin proposed on Settings → Remediation policy, with their dry run once done. */
export const policyProposals = proposalStore<PolicyRule[], PolicyDryRun>("policy.proposal");

/** The dry run of proposed rules (one per proposal). */
export const POLICY_DRY_RUN_JOB = jobKind<{ at: string }>("policy.dry-run", { label: "Policy dry run", dedupe: (p) => `policy.dry-run:${p.at}` });
