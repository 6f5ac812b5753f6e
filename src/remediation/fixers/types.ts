// What a fixer gives: the files it would change (whole texts, before and after) and how it
// chose the change, or why it cannot make one that is correct without a person.

export interface FileChange {
  /** Relative to the repository root. */
  path: string;
  before: string;
  after: string;
}

export type FixOutcome = { ok: true; changes: FileChange[]; how: string } | { ok: false; reason: string };

export function cannot(reason: string): FixOutcome {
  return { ok: false, reason };
}
