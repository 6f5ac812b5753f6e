// Table types for Kysely: the one description of what the database holds.
// Timestamps are ISO-8601 UTC strings (lexical order is time order on every dialect).
import type { ColumnType, Generated, Kysely, Selectable } from "kysely";
import type { Severity } from "../vuln/severity.js";

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
  /** 1: the password is a one-time password (reset-password): the user must choose their own first. */
  must_change_password: ColumnType<number, number | undefined, number>;
  /** The TOTP key, sealed by the vault, while two-step sign-in is on. */
  totp_key: ColumnType<string | null, string | null | undefined, string | null>;
  /** A key being enrolled: it becomes totp_key when the first code from it is entered. */
  totp_pending_key: ColumnType<string | null, string | null | undefined, string | null>;
  totp_enabled_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** The last TOTP time step accepted: a code is never accepted twice. */
  totp_last_step: ColumnType<number | null, number | null | undefined, number | null>;
  /** "<issuer>#<subject>" for a user who signs in with OpenID Connect (no password of their own). */
  external_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface OidcStateTable {
  /** SHA-256 of the state parameter. */
  id: string;
  nonce: string;
  /** The PKCE code verifier, sealed by the vault. */
  verifier: string;
  next: string;
  expires_at: string;
}

export interface RecoveryCodeTable {
  id: Generated<number>;
  user_id: number;
  /** SHA-256 of the code (its 50 random bits need no slow hash behind the sign-in limits). */
  code_hash: string;
  used_at: string | null;
}

export interface SignInChallengeTable {
  /** SHA-256 of the cookie that carries it. */
  id: string;
  user_id: number;
  /** Where to go once the code is entered. */
  next: string;
  attempts: ColumnType<number, number | undefined, number>;
  expires_at: string;
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
  /** JSON {checkedAt, notes: [{level, message}]}: the last daily health check. */
  health: ColumnType<string | null, string | null | undefined, string | null>;
  last_sync_at: string | null;
  /** JSON array: names this connection had before it was renamed (configuration documents may still use them). */
  former_names: ColumnType<string, string | undefined, string>;
  /** While set and in the future, one process is refreshing this integration's OAuth token. */
  refresh_lock_until: ColumnType<string | null, string | null | undefined, string | null>;
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
  /** The progress when the job was last claimed (to tell a crash after progress from a crash loop). */
  claimed_progress: ColumnType<string | null, string | null | undefined, string | null>;
  /** "integration:<id>" for jobs that talk to one integration: at most a few of a lane run at once. */
  lane: ColumnType<string | null, string | null | undefined, string | null>;
  /** "bulk:<username>": one person's bulk pushes, of which at most GROUP_LIMIT run at once. */
  group_key: ColumnType<string | null, string | null | undefined, string | null>;
  /** The process whose worker alone may claim it (work that needs that process's disk), or null for any. */
  pinned_to: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface RepositoryTable {
  id: Generated<number>;
  /** The SCM integration that makes the repository accessible (its rows go when it is disconnected). */
  integration_id: number | null;
  provider: string;
  /** "owner/name" (GitLab: the full path, groups included). */
  full_name: string;
  url: string | null;
  external_id: string | null;
  /** host/owner/name in lower case, from any form of the URL (see repositoryUrlKey). */
  url_key: string | null;
  default_branch: string | null;
  visibility: string | null;
  archived: ColumnType<number, number | undefined, number>;
  /** 0 once the integration no longer lists it: its findings stay, new ones are not imported. */
  accessible: ColumnType<number, number | undefined, number>;
  last_seen_at: string | null;
  /** When Patchbay added its webhook to this repository itself (automatic webhooks). */
  webhook_registered_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON array of the repository's topics as source control lists them. */
  topics: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON: the CODEOWNERS file read (path, blob id, rules, problems), or null when none was found. */
  codeowners: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON: the team's override of the routed assignee, component, labels and channel. */
  routing: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON: the repository's own remediation settings (mode, open fix pull requests at most…), over the default. */
  remediation: ColumnType<string | null, string | null | undefined, string | null>;
  /** How much the repository matters, as the team set it ("high", "low"; null: from the ownership table, else normal). */
  criticality: ColumnType<Criticality | null, Criticality | null | undefined, Criticality | null>;
  /** The owning team: the first owner of its root files in CODEOWNERS (tickets grouped by owner). */
  owner: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

export type AssetKind = "repository" | "container_image";
export type Criticality = "high" | "normal" | "low";

export interface AssetTable {
  id: Generated<number>;
  kind: AssetKind;
  /** Identity within its kind: "repository:<full name>", an image digest. */
  asset_key: string;
  name: string;
  repository_id: number | null;
  /** JSON: registry, image repository, tags, branches… as the scanner reported them. */
  details: string;
  /** The registry integration that lists this image (its inventory sync owns the row). */
  integration_id: ColumnType<number | null, number | null | undefined, number | null>;
  /** When the registry stopped listing the image. */
  gone_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** When a scanner or an upload last reported on this image (with findings or without), to the day. */
  scanned_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** An image's criticality as the team set it (null: its repository's, else normal). */
  criticality: ColumnType<Criticality | null, Criticality | null | undefined, Criticality | null>;
  created_at: string;
  updated_at: string;
}

export type { Severity };
export type FindingStatus = "open" | "in_remediation" | "resolved" | "risk_accepted" | "false_positive";

export interface FindingTable {
  id: Generated<number>;
  /** sha256(cve | package | installed version | asset key): one finding across scanners. */
  fingerprint: string;
  cve: string;
  title: string;
  description: string | null;
  severity: Severity;
  /** critical 5 … info 1, for sorting. */
  severity_rank: number;
  cvss: number | null;
  ecosystem: string | null;
  package: string;
  package_lc: string;
  installed_version: string;
  fixed_version: string | null;
  asset_id: number;
  status: FindingStatus;
  /** Why a person set the status (risk acceptance, false positive). */
  status_reason: string | null;
  /** When a risk acceptance ends and the finding opens again. */
  status_expires_at: string | null;
  first_detected_at: string;
  last_seen_at: string;
  resolved_at: string | null;
  /** When a ticket covering it was closed in the tracker: flagged if a scan still reports it. */
  tracker_closed_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** The risk score, 0–100 (src/exploitation/risk.ts); -1 until the rescore job has scored it. */
  risk: ColumnType<number, number | undefined, number>;
  /** The scanner's exposure signal: "exposed" (reachable from the internet), "internal"; null: none. */
  exposure: ColumnType<"exposed" | "internal" | null, "exposed" | "internal" | null | undefined, "exposed" | "internal" | null>;
  /** The scanner's own KEV flag (1/0; null: it gives none), used while the KEV feed has nothing loaded. */
  scanner_kev: ColumnType<number | null, number | null | undefined, number | null>;
  /** The scanner's own EPSS percentile (0–1), used while the EPSS feed has nothing loaded. */
  scanner_epss: ColumnType<number | null, number | null | undefined, number | null>;
  /** The remediation policy rule whose decision the finding carries (its name), or null. */
  policy_rule: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON: the decision (action and its value) and what to restore when the rule stops matching. */
  policy_undo: ColumnType<string | null, string | null | undefined, string | null>;
  /** Where the policy lets its tickets go: "none", "mapping:<id>"; null: wherever assignments say. */
  policy_push: ColumnType<string | null, string | null | undefined, string | null>;
  /** 1 when a person set the current status (policy rules never override or undo it). */
  person_status: ColumnType<number, number | undefined, number>;
  /** The remediation deadline (SLA) from the policy when it was created or its severity changed; null: none. */
  due_at: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

/** Open findings of a severity at the end of a day (UTC), for the trend chart (migration 0018). */
export interface FindingSnapshotTable {
  /** YYYY-MM-DD */
  day: string;
  severity: Severity;
  open: number;
}

export type ReconcileDirection = "report" | "patchbay" | "tracker";

/** A reconciliation of one mapping's tickets with the tracker (migration 0016). */
export interface ReconcileRunTable {
  id: Generated<number>;
  mapping_id: number;
  /** A reconciliation's direction, or "link": linking the project's existing tickets by CVE. */
  direction: ReconcileDirection | "link";
  /** "proposed": a link-by-CVE run waiting for an admin to approve its links. */
  status: "running" | "proposed" | "approving" | "succeeded" | "failed";
  /** A username, or "schedule". */
  requested_by: string;
  checked: ColumnType<number, number | undefined, number>;
  total: number | null;
  differences: ColumnType<number, number | undefined, number>;
  repaired: ColumnType<number, number | undefined, number>;
  /** The last ticket id compared: a run interrupted by a crash resumes after it. */
  after_ticket: ColumnType<number, number | undefined, number>;
  /** JSON ReconcileEntry[]: each difference and what was done about it. */
  report: ColumnType<string, string | undefined, string>;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

/** Findings by status and severity rank, kept by triggers on findings (migration 0014). */
export interface FindingCountTable {
  status: FindingStatus;
  severity_rank: number;
  n: number;
}

/** Findings by status and severity per CVE, package, scanner (integration id as text), deadline day (YYYY-MM-DD) or EPSS band ('0'–'3'), kept by triggers. */
export interface FindingFacetTable {
  facet: "cve" | "package" | "scanner" | "due" | "epss";
  key: string;
  status: FindingStatus;
  severity_rank: number;
  n: number;
}

/** Findings by asset, status and severity, kept by triggers (migration 0052): the Repositories and Images pages' counts. */
export interface AssetCountTable {
  asset_id: number;
  status: FindingStatus;
  severity_rank: number;
  n: number;
}

/** Resolved findings by the day they were resolved and their severity, kept by triggers (Trends' time to remediate). */
export interface ResolutionDayTable {
  day: string;
  severity: Severity;
  n: number;
  /** Days from first detection to resolution, summed. */
  days: number;
  with_sla: number;
  within_sla: number;
}

export interface FindingSourceTable {
  id: Generated<number>;
  finding_id: number;
  integration_id: number;
  external_id: string;
  /** The scanner's own view: open or resolved. */
  status: "open" | "resolved";
  raw: string;
  content_hash: string;
  url: string | null;
  first_seen_at: string;
  updated_at: string;
}

export interface FindingEventTable {
  id: Generated<number>;
  finding_id: number;
  at: string;
  /** A username, or "scanner: <integration name>". */
  actor: string;
  from_status: FindingStatus | null;
  to_status: FindingStatus;
  note: string | null;
}

export type SyncRunStatus = "running" | "interrupted" | "succeeded" | "failed";

export interface SyncRunTable {
  id: Generated<number>;
  integration_id: number;
  job_id: number;
  status: SyncRunStatus;
  /** Where the next page starts; null before the first page. */
  cursor: string | null;
  pages: ColumnType<number, number | undefined, number>;
  total: number | null;
  /** JSON SyncCounts. */
  counts: string;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

export interface SyncPageTable {
  run_id: number;
  page: number;
  /** JSON array of the external ids the page reported (resolve-on-disappear needs them all). */
  external_ids: string;
}

/** One token bucket of the outbound pacing: a credential's writes in one window. */
/** A CVE in CISA's Known Exploited Vulnerabilities catalogue. */
export interface KevEntryTable {
  cve: string;
  /** When CISA added it (YYYY-MM-DD). */
  date_added: string;
  /** CISA's due date for federal agencies (YYYY-MM-DD). */
  due_date: string | null;
  /** knownRansomwareCampaignUse: "Known" or "Unknown". */
  ransomware: string;
  name: string;
  notes: string;
  /** When Patchbay first saw it in the catalogue. */
  first_seen_at: string;
  /** When a load last changed the row. */
  changed_at: string;
}

/** A CVE's EPSS probability of exploitation in the next 30 days, and its percentile. */
export interface EpssScoreTable {
  cve: string;
  score: number;
  percentile: number;
  /** When a load last changed the row. */
  changed_at: string;
}

/** Where each exploitation feed stands. */
export interface ExploitationFeedTable {
  /** "kev" or "epss". */
  feed: string;
  /** The date of the data (KEV's dateReleased, EPSS's score_date). */
  data_date: string | null;
  model_version: string | null;
  rows: ColumnType<number, number | undefined, number>;
  loaded_at: string | null;
  error: string | null;
  error_at: string | null;
}

export type FixProposalState = "waiting" | "queued" | "dismissed" | "unfixable";

/** What the fix sweep found for a (repository, package) in one manifest ("" when none could be made). */
export interface FixProposalTable {
  id: Generated<number>;
  repository_id: number;
  package_lc: string;
  path: string;
  /** The finding the proposal is computed from (any open finding of the package there). */
  finding_id: number;
  /** The open findings and their fixed versions when it was computed: a change computes it again. */
  signature: string;
  state: FixProposalState;
  branch: string | null;
  title: string | null;
  to_version: string | null;
  findings: number;
  /** Why no fix could be made, or why it waits (the repository's open fix pull requests at most). */
  reason: string | null;
  /** Who queued or dismissed it ("automatic" for the automated mode). */
  by: string | null;
  created_at: string;
  updated_at: string;
}

/** A credential that writes under pacing: its row is the lock writers with it line up on. */
export interface PaceCredentialTable {
  /** "integration:4". */
  key: string;
  /** The latest clock a writer with it read (milliseconds since the epoch). */
  updated_ms: number;
}

/** One write a credential made, kept while it counts in a window (an hour). */
export interface PaceWriteTable {
  id: Generated<number>;
  key: string;
  at_ms: number;
}

export interface AuthAttemptTable {
  /** "ip:<address>", "account:<username>", "password:<user id>". */
  key: string;
  count: number;
  window_start: string;
}

export interface WebhookDeliveryTable {
  id: Generated<number>;
  integration_id: number;
  /** The service's delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Request-UUID). */
  delivery_id: string;
  /** SHA-256 (hex) of the delivery's body bytes: the same signed body is one delivery. */
  body_hash: string | null;
  event: string;
  received_at: string;
  /** accepted, ignored, processed, failed */
  outcome: string;
  detail: string | null;
  payload: string | null;
}

export type RemediationState = "open" | "merged" | "closed";

export interface RemediationTable {
  id: Generated<number>;
  integration_id: number;
  repository_id: number;
  number: number;
  title: string;
  url: string;
  source_branch: string | null;
  author: string | null;
  /** Why the pull request comes from outside the repository; null for the repository's own. */
  outside: string | null;
  state: RemediationState;
  created_at: string;
  updated_at: string;
  merged_at: string | null;
  closed_at: string | null;
}

export interface RemediationFindingTable {
  remediation_id: number;
  finding_id: number;
  /** Why they are linked: "cve", "ticket" or "bump". */
  reason: string;
}

/** The outbox: what happened, for the integrations that react to it (ticket updates). */
export interface DomainEventTable {
  id: Generated<number>;
  type: string;
  payload: string;
  created_at: string;
}

export interface OAuthStateTable {
  /** Random, sent to the provider and checked on the way back. */
  state: string;
  kind: string;
  /** Set when reconnecting an existing integration. */
  integration_id: number | null;
  user_id: number;
  /** Vault-sealed JSON: settings, secrets (client secret), PKCE verifier. */
  sealed: string;
  created_at: string;
  expires_at: string;
}

export type GroupBy = "finding" | "package" | "cve" | "asset" | "owner";
export type PushMode = "explicit" | "link_new" | "update_existing" | "link_and_update";

export interface TrackerMappingTable {
  id: Generated<number>;
  /** The tracker integration (the instance). */
  integration_id: number;
  name: string;
  /** JSON TicketTarget: the project and ticket type inside the tracker. */
  target: string;
  /** JSON FieldMapping[]: each tracker field and where its value comes from. */
  fields: string;
  /** JSON: Patchbay ticket state (open, in_progress, done, accepted) → tracker status id. */
  status_map: string;
  /** JSON InboundSettings: what a tracker status means for the findings (two-way sync). */
  inbound: ColumnType<string, string | undefined, string>;
  /** JSON Templates: the mapping's title and description templates (empty: Patchbay's own). */
  templates: ColumnType<string, string | undefined, string>;
  created_at: string;
  updated_at: string;
}

export interface TrackerAssignmentTable {
  id: Generated<number>;
  mapping_id: number;
  /** JSON array of repository ids, or null for all repositories. */
  repository_ids: string | null;
  min_severity: Severity;
  group_by: GroupBy;
  push_mode: PushMode;
  /** Findings with ids above this are new to the assignment (automatic linking looks at them). */
  linked_through: number;
  created_at: string;
  updated_at: string;
}

export interface TicketTable {
  id: Generated<number>;
  mapping_id: number;
  /** "finding:<id>", or a group: "package:<ecosystem>:<name>", "cve:<id>", "asset:<id>". */
  subject_key: string;
  /** The stable key written on the ticket (a label) so a retry can find it after a crash. */
  marker: string;
  external_id: string | null;
  external_key: string | null;
  url: string | null;
  /** The Patchbay ticket state last pushed: open, in_progress, done, accepted. */
  state: string | null;
  /** Hash of the content last sent: an update goes out only when it changes. */
  content_hash: string | null;
  /** JSON: each field's value as last sent, shortened, for the changelog's "what changed". */
  content: string | null;
  /** A push holds the ticket until then, so two pushes never create or comment twice. */
  lock_until: string | null;
  /** Which job holds it: a later attempt of the same job takes over from a crashed one. */
  lock_by: string | null;
  /** JSON array of the comment keys already posted (remediation events). */
  notes: ColumnType<string, string | undefined, string>;
  /** Null while the ticket is being created (a retry searches the tracker first). */
  linked_at: string | null;
  /** "created" by Patchbay, or "linked": it existed in the tracker and is never rewritten. */
  origin: ColumnType<"created" | "linked", "created" | "linked" | undefined, "created" | "linked">;
  /** When the last successful push read the findings. */
  synced_at: string | null;
  /** The tracker status id last seen on the ticket (an event or reconciliation). */
  remote_status: ColumnType<string | null, string | null | undefined, string | null>;
  /** When the tracker made the last change Patchbay applied: older deliveries are ignored. */
  remote_seen_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** The last comment a person wrote on the ticket (a reason for a won't-fix close). */
  remote_comment: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

export interface TicketFindingTable {
  ticket_id: number;
  finding_id: number;
}

export interface TicketChangeTable {
  id: Generated<number>;
  ticket_id: number;
  at: string;
  /** linked, updated, transitioned, commented */
  action: string;
  detail: string;
}

export interface PushErrorTable {
  id: Generated<number>;
  mapping_id: number;
  subject_key: string;
  subject_label: string;
  finding_id: number | null;
  at: string;
  reason: string;
  http_status: number | null;
  tracker_message: string | null;
  /** Set when a later push of the same subject succeeded, or the row was retried. */
  resolved_at: string | null;
}

/** One tracker integration's share of a bulk push: its own job, lane and progress. */
export interface PushBatchPartTable {
  batch_id: number;
  integration_id: number;
  total: number | null;
  done: ColumnType<number, number | undefined, number>;
  failed: ColumnType<number, number | undefined, number>;
  finished_at: string | null;
}

export interface PushBatchTable {
  id: Generated<number>;
  requested_by: string;
  description: string;
  /** JSON: the Vulnerabilities filter the batch was started from. */
  filter: string;
  total: number | null;
  done: ColumnType<number, number | undefined, number>;
  failed: ColumnType<number, number | undefined, number>;
  created_at: string;
  finished_at: string | null;
}

/** One pinned dependency a repository's manifest or lockfile names. */
export interface RepositoryDependencyTable {
  id: Generated<number>;
  repository_id: number;
  path: string;
  /** OSV's ecosystem name: npm, PyPI, Maven, Go, RubyGems, crates.io. */
  ecosystem: string;
  name: string;
  version: string;
  /** 1: declared by the repository, 0: pulled in by another package; null when the file does not say. */
  direct: ColumnType<number | null, number | null | undefined, number | null>;
  /** production, development, test or optional; null when the file does not say. */
  scope: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON array: the direct dependencies that pull a transitive one in. */
  via: ColumnType<string | null, string | null | undefined, string | null>;
  updated_at: string;
}

/** A package the organisation publishes, as a package-registry integration lists it. */
export interface PackageTable {
  id: Generated<number>;
  integration_id: number;
  ecosystem: string;
  name: string;
  latest: string | null;
  /** JSON array of published versions, newest last. */
  versions: ColumnType<string, string | undefined, string>;
  updated_at: string;
}

export interface DependencyCacheTable {
  key: string;
  value: string;
  updated_at: ColumnType<string, string | undefined, string>;
}

/** A token for the API (uploads from CI): only its SHA-256 is stored. */
export interface ApiTokenTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  /** The token's first characters, shown to tell tokens apart. */
  prefix: string;
  /** Comma-separated: read, write, upload, admin. */
  scopes: string;
  /** Whose rights the token uses (within its scopes); null for an old token whose creator is gone. */
  user_id: ColumnType<number | null, number | null | undefined, number | null>;
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  /** After this the token is refused; null: it does not expire. */
  expires_at: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One scan report uploaded, and what its import did. */
export interface UploadTable {
  id: Generated<number>;
  integration_id: number;
  /** "token: ci-main" or "user: alice" */
  by: string;
  format: string | null;
  tool: string | null;
  asset: string | null;
  full_result: ColumnType<number, number | undefined, number>;
  bytes: ColumnType<number, number | undefined, number>;
  /** running, succeeded, rejected, failed */
  status: string;
  counts: ColumnType<string, string | undefined, string>;
  error: string | null;
  created_at: ColumnType<string, string | undefined, string>;
  finished_at: string | null;
  /** The process receiving (and spooling) it, and when it last showed it was alive. */
  receiver: ColumnType<string | null, string | null | undefined, string | null>;
  seen_at: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface Database {
  meta: MetaTable;
  users: UserTable;
  sessions: SessionTable;
  integrations: IntegrationTable;
  jobs: JobTable;
  finding_counts: FindingCountTable;
  finding_facets: FindingFacetTable;
  asset_counts: AssetCountTable;
  resolution_days: ResolutionDayTable;
  reconcile_runs: ReconcileRunTable;
  finding_snapshots: FindingSnapshotTable;
  repositories: RepositoryTable;
  assets: AssetTable;
  findings: FindingTable;
  finding_sources: FindingSourceTable;
  finding_events: FindingEventTable;
  sync_runs: SyncRunTable;
  sync_pages: SyncPageTable;
  webhook_deliveries: WebhookDeliveryTable;
  auth_attempts: AuthAttemptTable;
  pace_credentials: PaceCredentialTable;
  fix_proposals: FixProposalTable;
  kev_entries: KevEntryTable;
  epss_scores: EpssScoreTable;
  exploitation_feeds: ExploitationFeedTable;
  pace_writes: PaceWriteTable;
  remediations: RemediationTable;
  remediation_findings: RemediationFindingTable;
  domain_events: DomainEventTable;
  oauth_states: OAuthStateTable;
  tracker_mappings: TrackerMappingTable;
  tracker_assignments: TrackerAssignmentTable;
  tickets: TicketTable;
  ticket_findings: TicketFindingTable;
  ticket_changes: TicketChangeTable;
  push_errors: PushErrorTable;
  push_batches: PushBatchTable;
  push_batch_parts: PushBatchPartTable;
  repository_dependencies: RepositoryDependencyTable;
  packages: PackageTable;
  dependency_cache: DependencyCacheTable;
  api_tokens: ApiTokenTable;
  uploads: UploadTable;
  audit_log: AuditTable;
  recovery_codes: RecoveryCodeTable;
  sign_in_challenges: SignInChallengeTable;
  oidc_states: OidcStateTable;
  schedule_ticks: ScheduleTickTable;
}

export interface ScheduleTickTable {
  schedule: string;
  /** The minute the schedule fired for, ISO (seconds zeroed). */
  tick: string;
  claimed_at: string;
}

export interface AuditTable {
  id: Generated<number>;
  at: string;
  /** Who: a user name; null for Patchbay itself or someone not signed in. */
  actor: string | null;
  /** How: "token <name>" for the API, "proxy", "oidc", "cli"; null for a browser session. */
  via: string | null;
  /** What: a dotted name, like "integration.connected" (AUDIT_ACTIONS). */
  action: string;
  /** What it was done to, in words: "jira-main", "finding 42". */
  target: string | null;
  /** JSON object of non-secret facts (changed field names, a role, a reason). */
  detail: string | null;
  ip: string | null;
}

export type Db = Kysely<Database>;
export type User = Selectable<UserTable>;
export type ApiToken = Selectable<ApiTokenTable>;
export type AuditEntry = Selectable<AuditTable>;
export type Integration = Selectable<IntegrationTable>;
export type Job = Selectable<JobTable>;
export type Repository = Selectable<RepositoryTable>;
export type Asset = Selectable<AssetTable>;
export type Finding = Selectable<FindingTable>;
export type FindingSource = Selectable<FindingSourceTable>;
export type FindingEvent = Selectable<FindingEventTable>;
export type SyncRun = Selectable<SyncRunTable>;
export type TrackerMapping = Selectable<TrackerMappingTable>;
export type TrackerAssignment = Selectable<TrackerAssignmentTable>;
export type Ticket = Selectable<TicketTable>;
export type ReconcileRun = Selectable<ReconcileRunTable>;
export type PushError = Selectable<PushErrorTable>;
export type PushBatch = Selectable<PushBatchTable>;
