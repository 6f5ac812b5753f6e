// Table types for Kysely: the one description of what the database holds.
// Timestamps are ISO-8601 UTC strings (lexical order is time order on every dialect).
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Updateable } from "kysely";

export interface MetaTable {
  key: string;
  value: string;
}

export type Role = "admin" | "member";

export interface UserTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: Role;
  created_at: string;
  password_changed_at: string;
}

export interface SessionTable {
  /** SHA-256 of the cookie token, hex; the token itself is never stored. */
  id: string;
  user_id: number;
  created_at: string;
  expires_at: string;
}

export type IntegrationStatus = "connected" | "error";

export interface IntegrationTable {
  id: Generated<number>;
  kind: string;
  name: string;
  /** Non-secret settings, JSON validated by the connector. */
  settings: string;
  /** Secret settings, a JSON object encrypted by the vault (AES-256-GCM), or null. */
  secrets: string | null;
  status: IntegrationStatus;
  last_error: string | null;
  last_sync_at: string | null;
  created_at: string;
  updated_at: string;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed";

export interface JobTable {
  id: Generated<number>;
  type: string;
  payload: string;
  status: JobStatus;
  run_at: string;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  last_error: string | null;
  lease_until: string | null;
  locked_by: string | null;
  /** While set, at most one queued or running job carries it (schedules enqueue idempotently). */
  dedupe_key: string | null;
  /** JSON {done,total,message} for long work, shown on the jobs page. */
  progress: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface Database {
  meta: MetaTable;
  users: UserTable;
  sessions: SessionTable;
  integrations: IntegrationTable;
  jobs: JobTable;
}

export type Db = Kysely<Database>;
export type User = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;
export type Integration = Selectable<IntegrationTable>;
export type IntegrationUpdate = Updateable<IntegrationTable>;
export type Job = Selectable<JobTable>;
