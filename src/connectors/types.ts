// The connector contract. A connector is the code for one external service kind: its
// catalog card and Overview, the settings form it declares, a real `test()` of a
// connection, and the capabilities it implements. The engine never names a service.
import { cvesIn } from "../vuln/advisories.js";
import { ExternalError, type HttpClient } from "../http.js";
import type { Logger } from "../log.js";

/** What a connector can do: each is a part of the contract it implements (scanner, scm, …). */
export type Capability = "scanner" | "scm" | "tracker" | "notifier" | "registry" | "packages" | "advisories";

export type CategoryId = "scm" | "scanners" | "container-registries" | "package-registries" | "collaboration";

export interface Category {
  id: CategoryId;
  title: string;
  description: string;
}

/** The Integration Hub's groups, in the order the seed presents them. */
export const CATEGORIES: Category[] = [
  {
    id: "scm",
    title: "Source Control",
    description: "Connect your code repositories so Patchbay knows your codebase and can follow remediation pull requests.",
  },
  {
    id: "scanners",
    title: "Security Scanners",
    description: "Import vulnerabilities from the scanners you already run.",
  },
  {
    id: "container-registries",
    title: "Container Registries",
    description: "Integrate container registries to scan images for vulnerabilities.",
  },
  {
    id: "package-registries",
    title: "Package Registries",
    description: "Connect package registries to monitor dependencies.",
  },
  {
    id: "collaboration",
    title: "Collaboration & Ticketing",
    description: "Link collaboration platforms for notifications and ticket management.",
  },
];

export interface DocLink {
  label: string;
  url: string;
}

/** What the Overview tab shows. */
export interface Overview {
  description: string;
  benefits: string[];
  requirements: string[];
  docs: DocLink[];
}

export interface Card {
  kind: string;
  name: string;
  category: CategoryId;
  /** One line on the card itself. */
  summary: string;
  /** Two letters that stand for the service where space is short (a ticket's type icon). */
  badge?: string;
  overview: Overview;
}

/**
 * "integration": one of the connected integrations of `integrationKind`, whose connection this
 * one reuses. "select": one of `options`. "integrations": any of the connected integrations
 * (stored as comma-separated ids; none chosen means all).
 */
export type FieldType = "text" | "url" | "email" | "secret" | "checkbox" | "integration" | "select" | "integrations";

export interface SettingField {
  name: string;
  label: string;
  type: FieldType;
  required?: boolean;
  help?: string;
  /** An example value, shown greyed in the empty field. */
  example?: string;
  /** Default for a checkbox. */
  defaultChecked?: boolean;
  maxLength?: number;
  /** Returns an error message for a bad value (called only for non-empty values). */
  validate?: (value: string) => string | undefined;
  /** May be changed on a connected integration (rotated credentials, scan options). */
  editableWhenConnected?: boolean;
  /**
   * Says where the stored secrets are sent (URL fields always do; a mail host, a region):
   * changing it on a connected integration requires entering the secrets again.
   */
  destination?: boolean;
  /** Shown on the card as a key setting at a glance. */
  glance?: boolean;
  /** What an empty value means (the public service's address), shown on the card. */
  defaultValue?: string;
  /** A multi-line value (a PEM private key): a textarea. */
  multiline?: boolean;
  /** For an "integration" field: the kind of integration it names. */
  integrationKind?: string;
  /** For an "integrations" field: only integrations with this capability are offered. */
  integrationCapability?: Capability;
  /** For a "select" field: its choices, the first being the default. */
  options?: { value: string; label: string }[];
}

/** Parsed form values: strings for text fields, booleans for checkboxes. */
export type SettingValues = Record<string, string | boolean>;
export type SecretValues = Record<string, string>;

export interface ConnectionSettings {
  settings: SettingValues;
  secrets: SecretValues;
  /** The connection of the integration an "integration" field names (a tracker reusing source control). */
  reused?: { settings: SettingValues; secrets: SecretValues };
}

export interface ConnectorContext {
  /** An HTTP client for the named service, with the shared retry/timeout/redaction policy. */
  http(service: string, options?: { errorMessage?: (body: string) => string | undefined }): HttpClient;
  logger: Logger;
  /** What Patchbay itself knows, for a scanner that works from it (given to scans only). */
  workspace?: Workspace;
  /** The outbound proxy for a connection that is not HTTP (SMTP through CONNECT), or undefined for a direct one. */
  proxyFor?(url: string): string | undefined;
}

/** A repository Patchbay knows, readable through the source control integration that lists it. */
export interface WorkspaceRepository {
  id: number;
  /** The source control integration it is read through. */
  integrationId: number;
  fullName: string;
  url: string;
  files: RepositoryFiles;
}

/** A pinned package version a repository's manifest or lockfile names. */
export interface ResolvedDependency {
  /** OSV's ecosystem name: npm, PyPI, Maven, Go, RubyGems, crates.io, Packagist, NuGet. */
  ecosystem: string;
  name: string;
  version: string;
  /** Declared by the repository (true) or pulled in (false); absent when the file does not say. */
  direct?: boolean;
  /** production, development, test or optional, where the file says. */
  scope?: string;
  /** A transitive dependency's direct parents. */
  via?: string[];
}

export interface Workspace {
  /** The repositories of connected source control (archived and inaccessible ones left out), in a stable order. */
  repositories(): Promise<WorkspaceRepository[]>;
  /** Packages the organisation publishes (package-registry integrations): "ecosystem:name" → the integration's name. */
  ownPackages(): Promise<Map<string, string>>;
  /** Records what a repository's manifests resolve (replacing what was recorded before). */
  recordDependencies(repositoryId: number, byPath: Map<string, ResolvedDependency[]>): Promise<void>;
  /** A store that outlives the scan: parsed manifests by content hash, advisory records by id. */
  cache: { get(key: string): Promise<string | undefined>; set(key: string, value: string): Promise<void> };
}

export interface TestResult {
  message: string;
  details?: string[];
  /** Settings the test learned from the service (a site's address), stored with the connection. */
  discovered?: SettingValues;
}

/** Troubleshooting advice for a failure, shown beside the error in the dialog. */
export interface Advice {
  title: string;
  steps: string[];
}

export type ScannerSeverity = "critical" | "high" | "medium" | "low" | "info";

/** What a scanner says a finding is on. The engine matches repositories to source control. */
export type AssetRef =
  | { kind: "repository"; repositoryName: string; url?: string; branch?: string; details: Record<string, unknown> }
  | { kind: "container_image"; key: string; name: string; details: Record<string, unknown> };

/** One scanner record, normalised by its connector. */
export interface ScannedFinding {
  cve: string;
  title: string;
  description: string | null;
  severity: ScannerSeverity;
  cvss: number | null;
  ecosystem: string | null;
  package: string;
  installedVersion: string;
  fixedVersion: string | null;
  /** The scanner's original first detection, preserved as the finding's. */
  firstDetectedAt: string;
  lastSeenAt: string;
  asset: AssetRef;
  /** Link to the record in the scanner's own UI. */
  url: string | null;
  /**
   * The scanner says the finding was dismissed there (Dependabot "inaccurate", a VEX "not
   * affected"): an open finding takes this status; decisions people made in Patchbay stand.
   */
  dismissed?: { status: "false_positive" | "risk_accepted"; reason: string };
  /**
   * What the scanner says of the finding's exposure and exploitation, where it says anything
   * (Wiz: internet exposure, its CISA KEV flag, the EPSS percentile as 0–1). A scanner that sets
   * this replaces what an earlier scan said; one that leaves it out leaves it as it was.
   */
  signals?: { exposure?: "exposed" | "internal"; kev?: boolean; epssPercentile?: number };
}

export type ScannerRecord =
  | { externalId: string; raw: unknown; finding: ScannedFinding }
  /** A record the import rules leave out, with the reason shown in the scan outcome. */
  | { externalId: string; raw: unknown; skip: string };

export interface SyncPage {
  records: ScannerRecord[];
  /** Cursor of the next page, or null after the last one. */
  nextCursor: string | null;
  /** Total records the scan will return, when the scanner says. */
  total: number | null;
}

/** The scanner no longer accepts a saved cursor (it expired): the scan must start over. */
export class ScanCursorInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScanCursorInvalid";
  }
}

/** One scan's connection to the scanner (it keeps its token across pages). */
export interface ScanSession {
  fetchPage(cursor: string | null): Promise<SyncPage>;
}

/** Scanner capability: fetch the open findings, one page at a time, from a cursor. */
export interface Scanner {
  /** Hours between scheduled scans. */
  intervalHours: number;
  /** Also scan after every repository sync (a scanner that reads the repositories themselves). */
  afterRepositorySync?: boolean;
  session(connection: ConnectionSettings, ctx: ConnectorContext): ScanSession;
}

/** A repository as source control lists it. */
export interface RepositoryInfo {
  externalId: string;
  /** "owner/name" (GitLab: the full path with groups). */
  fullName: string;
  /** The repository's web URL. */
  url: string;
  defaultBranch: string | null;
  visibility: string | null;
  archived: boolean;
  /** The repository's topics (GitHub topics, GitLab topics); none where the service has none. */
  topics?: string[];
}

export interface RepositoryPage {
  repositories: RepositoryInfo[];
  nextCursor: string | null;
}

/** One repository sync's connection to source control. */
export interface ScmSession {
  listRepositories(cursor: string | null): Promise<RepositoryPage>;
}

/** A file on a repository's default branch. */
export interface RepositoryFile {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  /** The service's content hash (git blob id) where the listing gives it: unchanged files are not read again. */
  sha: string | null;
  size: number | null;
}

/** Read access to one repository's default branch. */
export interface RepositoryFiles {
  /** Every file on the branch (directories left out); an empty repository has none. */
  list(): Promise<RepositoryFile[]>;
  /** The file's content as text; a file over maxBytes is not read (TooLargeError). */
  read(path: string, maxBytes: number): Promise<string>;
}

/** A pull/merge request event, as every source control connector reports it. */
export interface PullRequestEvent {
  /** opened (also reopened), updated (title, body or commits), merged, closed (without merging). */
  action: "opened" | "updated" | "merged" | "closed";
  repository: { externalId: string; fullName: string; url: string };
  number: number;
  title: string;
  body: string;
  url: string;
  sourceBranch: string | null;
  author: string | null;
  /**
   * Why the pull request comes from outside the repository (a fork, by someone without write
   * access), or null when it is the repository's own: from one of its branches, or by an
   * owner, member or collaborator. Outsiders' pull requests are not linked by default and
   * are never written into.
   */
  outside: string | null;
}

/** A delivery as received: its bytes, which signatures cover, and the same bytes read as UTF-8. */
export interface WebhookBody {
  bytes: Uint8Array;
  text: string;
}

export type WebhookCheck = { ok: true; deliveryId: string; event: string } | { ok: false; reason: string };

/** A fix to commit and propose: whole files on a branch of its own, and its pull request. */
export interface FixToOpen {
  /** Never the default branch. */
  branch: string;
  files: { path: string; content: string }[];
  message: string;
  title: string;
  body: string;
  draft: boolean;
  /** Who should review it, as CODEOWNERS names them ("@user", "@org/team", an e-mail). */
  reviewers: string[];
}

export interface FixPullRequest {
  number: number;
  url: string;
  /** The pull request was there already (found by its branch) and was updated, not created. */
  existed: boolean;
  /** The reviewers the service took; the others, with why, in `unrequested`. */
  reviewers: string[];
  unrequested: string[];
  /** What differs from what was asked ("opened ready for review: the plan has no drafts"), for the log. */
  note?: string;
}

/** Writing fix pull requests: what a connector offers beside reading files. */
export interface FixPullRequests {
  /** What the token needs to open them, for the card. */
  permissions: string;
  /**
   * Commits the files on the fix's branch, made from (or reset onto) the default branch's head,
   * and opens its pull request into the default branch — or updates the open one the branch
   * already has. Safe to run again after a failure at any step: the branch and the pull request
   * are found by the branch's name, so a rerun never opens a second one.
   */
  open(connection: ConnectionSettings, ctx: ConnectorContext, repository: { fullName: string; defaultBranch: string }, fix: FixToOpen): Promise<FixPullRequest>;
}

/** Source control capability: the repositories an integration can reach, and its webhooks. */
export interface SourceControl {
  /** Stored on each repository: "github", "gitlab", "bitbucket". */
  provider: string;
  /** Where the service reads a CODEOWNERS file, in its own order of precedence. */
  codeownersPaths: string[];
  /** Hours between scheduled repository syncs. */
  intervalHours: number;
  session(connection: ConnectionSettings, ctx: ConnectorContext): ScmSession;
  /** The files of a repository's default branch (manifests and lockfiles are read through it). */
  files(connection: ConnectionSettings, ctx: ConnectorContext, repository: { fullName: string; defaultBranch: string | null }): RepositoryFiles;
  /**
   * Writes `text` into the pull request's description inside a marked block: appended the
   * first time, replaced in place afterwards, never duplicated.
   */
  annotatePullRequest(connection: ConnectionSettings, ctx: ConnectorContext, pr: { repository: string; number: number }, text: string): Promise<void>;
  /** Fix pull requests Patchbay opens, where the connector can write them. */
  fixes?: FixPullRequests;
  webhook: {
    /** The secret setting deliveries are verified with. */
    secretField: string;
    /** What to configure on the service's side, shown in the dialog beside the webhook URL. */
    instructions: string[];
    /** Checks a delivery's signature (in constant time, over its bytes) and reads its id and event. */
    verify(headers: Headers, body: WebhookBody, secret: string, now: Date): WebhookCheck;
    /** Headers one of which every signed delivery carries: without one, the body is not read. */
    signatureHeaders?: string[];
    /** The largest delivery the service documents sending (bytes); 10 MB when unset. */
    maxBodyBytes?: number;
    /** The pull request event in a verified delivery, or undefined for other events. */
    parse(event: string, rawBody: string, contentType: string): PullRequestEvent | undefined;
    /**
     * Adds (or corrects) Patchbay's webhook on one repository, where the token may. Throws
     * ExternalError "permission" or "not_found" when it may not.
     */
    register?(connection: ConnectionSettings, ctx: ConnectorContext, repository: string, hook: { url: string; secret: string }): Promise<"created" | "updated">;
    /** Whether Patchbay's webhook (by its URL) is still on the repository (the daily health check). */
    registered?(connection: ConnectionSettings, ctx: ConnectorContext, repository: string, url: string): Promise<boolean>;
  };
}

/** One image as a registry serves it: a repository's tag resolved to its manifest digest. */
export interface RegistryImage {
  repository: string;
  tag: string;
  /** The digest of the manifest (or index) the tag points to: "sha256:…". */
  digest: string;
  /** The image config's labels (org.opencontainers.image.source links the source repository). */
  labels: Record<string, string>;
  created: string | null;
}

/** One inventory sync's connection to a registry. */
export interface RegistrySession {
  /** Repositories: the catalog where the registry allows it, else those configured. */
  repositories(): Promise<string[]>;
  tags(repository: string): Promise<string[]>;
  image(repository: string, tag: string): Promise<RegistryImage>;
}

/** Container registry capability: the images an integration can list. */
export interface ContainerRegistry {
  /** The registry's host as image references name it ("ghcr.io", "registry.example.com:5000"). */
  host(settings: SettingValues): string;
  /** Hours between scheduled inventory syncs. */
  intervalHours: number;
  session(connection: ConnectionSettings, ctx: ConnectorContext): RegistrySession;
}

/** A package the organisation publishes, with its versions. */
export interface PublishedPackage {
  /** As its ecosystem names it: "@acme/ui", "acme-tools" (PyPI normalised), "com.acme:billing-api", a Go module path. */
  name: string;
  /** Published versions, oldest first. */
  versions: string[];
  /** The version the registry calls latest (or the highest). */
  latest: string | null;
}

/** Package registry capability: the packages (and versions) the organisation publishes. */
export interface PackageRegistry {
  /** OSV's ecosystem name: npm, PyPI, Maven, Go. */
  ecosystem: string;
  /** Hours between scheduled listings. */
  intervalHours: number;
  list(connection: ConnectionSettings, ctx: ConnectorContext): Promise<PublishedPackage[]>;
  /**
   * The sha256 digests of every distribution file of one version (what a requirements file's
   * --hash options list), where the index publishes them; throws when a file has none.
   */
  distributionHashes?(connection: ConnectionSettings, ctx: ConnectorContext, name: string, version: string): Promise<string[]>;
  /**
   * How the ecosystem's own package manager reaches this registry when Patchbay runs it (npm
   * regenerating a lockfile): the registry's address and the configuration lines of its
   * credentials, scoped to that registry so they go nowhere else.
   */
  installerConfig?(connection: ConnectionSettings): { url: string; credentials: string[] };
  /** A module version's go.mod or source archive, as the module proxy serves them (Go). */
  moduleFile?(connection: ConnectionSettings, ctx: ConnectorContext, path: string, version: string, kind: "mod" | "zip"): Promise<Uint8Array>;
}

/** What an advisory says of one package version. */
export interface AdvisoryMatch {
  /** The CVE first where there is one, then the advisory's own id and aliases. */
  ids: string[];
  title: string;
  description: string | null;
  severity: ScannerSeverity | null;
  cvss: number | null;
  fixedVersion: string | null;
  url: string;
  /** The advisory's own id and last modification. */
  advisory: string;
  modified: string;
}

/** Advisory database capability: vulnerabilities by package version, and advisory aliases. */
export interface AdvisoryDatabase {
  /** For each package version, in order, the advisories affecting it. */
  lookup(connection: ConnectionSettings, ctx: ConnectorContext, packages: ResolvedDependency[]): Promise<AdvisoryMatch[][]>;
  /** The other identifiers of an advisory (GHSA-… → CVE-…); none when it is unknown. */
  aliases(connection: ConnectionSettings, ctx: ConnectorContext, id: string): Promise<string[]>;
}

/** A choice the tracker offers: a project, a ticket type, a status, an allowed field value. */
export interface TrackerChoice {
  id: string;
  name: string;
}

/** A project tickets can go to; `public`: anyone on the internet can read what is in it. */
export type TrackerProject = TrackerChoice & { key?: string; public?: boolean };

/** Where tickets go inside a tracker: a project (repository, table…) and a ticket type. */
export interface TicketTarget {
  project: TrackerProject;
  ticketType: TrackerChoice;
}

/** How a tracker field takes values; the connector turns values into the tracker's own shapes. */
export type TrackerFieldKind = "text" | "document" | "number" | "date" | "choice" | "choices" | "labels" | "user" | "unsupported";

/** One field of the tracker's create form for a target (Jira's create metadata). */
export interface TrackerField {
  id: string;
  name: string;
  required: boolean;
  kind: TrackerFieldKind;
  allowedValues?: TrackerChoice[];
  /** The tracker fills the field itself when it is left out. */
  hasDefault: boolean;
  /** Fields such as Priority and Severity must take a Patchbay field (the seed's special fields). */
  special?: boolean;
}

/** A piece of text, optionally a link or code. */
export interface Span {
  text: string;
  href?: string;
  code?: boolean;
}

/** Rich ticket text in a neutral form each connector renders (ADF, Markdown, HTML). */
export type Block =
  | { type: "heading"; text: string }
  | { type: "paragraph"; spans: Span[] }
  | { type: "facts"; rows: { label: string; value: Span[] }[] }
  | { type: "list"; items: Span[][] };

export type FieldValue =
  | { kind: "text"; text: string }
  | { kind: "document"; blocks: Block[] }
  | { kind: "number"; value: number }
  | { kind: "date"; date: string }
  | { kind: "choice"; id: string }
  /** Several of the tracker's allowed values. */
  | { kind: "choices"; ids: string[] }
  /** Free-form labels or tags. */
  | { kind: "list"; items: string[] }
  /** A person in the tracker: a Jira account ID (a username on Data Center). */
  | { kind: "user"; id: string };

export interface TicketContent {
  /** Values by tracker field id. */
  fields: Record<string, FieldValue>;
  /** The stable key that identifies the ticket (stored as a label or marker). */
  marker: string;
}

export interface TicketRef {
  id: string;
  /** What people call it: "SEC-12", "#45". */
  key: string;
  url: string;
}

/**
 * The ticket lives elsewhere now — an issue transferred to another repository, a Jira issue
 * moved to another project: the engine records where, with a changelog line, and carries on
 * there. Thrown by a tracker session's update, transition or comment.
 */
export class TicketMovedError extends ExternalError {
  constructor(
    service: string,
    readonly to: TicketRef,
    /** How it moved, in the tracker's words: "transferred to acme/other". */
    readonly how: string,
  ) {
    super("remote", service, `${service}: the ticket is now ${to.key} (${how}).`);
    this.name = "TicketMovedError";
  }
}

/**
 * One push's connection to a tracker: what a tracker connector implements. The engine
 * (src/tickets/) calls only these, and the contract suite (test/integration/
 * tracker-contract.test.ts) runs every tracker through them against its simulator.
 *
 * - projects → ticketTypes → fields/statuses feed the mapping form, in that order; ids are
 *   the tracker's own and are stored in the mapping.
 * - fields lists what the create form of the target takes, with its kind, whether it is
 *   mandatory, its allowed values, and `special` for fields that must take Patchbay's
 *   severity (Priority, Severity, impact, urgency). Fields the connector sets itself (project,
 *   type, state, the marker) are left out.
 * - create must write `content.marker` on the ticket where `find` can search it at once (a
 *   label, a tag, a correlation id); `find` is called before any create that follows an
 *   interrupted one, so a crash never makes a second ticket.
 * - update sends the content again; it must keep what people added (labels, tags) and is
 *   called only when the rendered content changed.
 * - transition moves to a status id from `statuses`, or answers "already"; it throws
 *   ExternalError "invalid_input" when the workflow has no way there.
 * - comment adds a note (remediation events).
 * - Errors are ExternalError with the tracker's own message (`remoteMessage`): "auth" turns
 *   the card to Error; "invalid_input", "permission", "not_found" and other 4xx go to the
 *   mapping's error table at once; "rate_limited", "unreachable" and 5xx are retried.
 */
export interface TrackerSession {
  projects(): Promise<TrackerProject[]>;
  /**
   * Why the tickets this mapping opens would be readable by anyone (a public repository, a
   * public project's non-confidential issues), or undefined. Saving such a mapping needs an
   * explicit confirmation: a ticket names an open vulnerability and where it is.
   */
  exposure?(target: TicketTarget, fields: { fieldId: string; source: string; value: string }[]): string | undefined;
  ticketTypes(project: TrackerChoice): Promise<TrackerChoice[]>;
  fields(target: TicketTarget): Promise<TrackerField[]>;
  statuses(target: TicketTarget): Promise<TrackerChoice[]>;
  /** The ticket carrying this marker, if one exists (a retry after a crash looks here first). */
  find(target: TicketTarget, marker: string): Promise<TicketRef | undefined>;
  /**
   * How long after a create `find` may still miss the ticket (a search index that lags its
   * writes: Jira Cloud, up to a minute). After a create whose answer was lost, the engine waits
   * this long before deciding, from `find`, to create again.
   */
  readonly searchLagMs?: number;
  create(target: TicketTarget, content: TicketContent): Promise<TicketRef>;
  /** How many tickets one `createMany` request carries at most; absent where the tracker has no bulk create. */
  readonly bulkCreateLimit?: number;
  /**
   * Creates several tickets in one request (at most `bulkCreateLimit`): one result per content, in
   * order — its ticket, or the error the tracker gave for that one alone (nothing created for it).
   * Throws when the request as a whole failed or its answer cannot be matched to what was sent:
   * then any of them may exist, and the engine finds them by their markers before creating again.
   */
  createMany?(target: TicketTarget, contents: TicketContent[]): Promise<(TicketRef | ExternalError)[]>;
  /**
   * Sends the content again. Where the tracker takes only some fields now (Jira's edit screen,
   * an issue locked in its status), it sends only those and names the rest in `ignored`.
   */
  update(target: TicketTarget, ticket: TicketRef, content: TicketContent): Promise<UpdateOutcome | void>;
  /**
   * Moves the ticket to a status; "already" when it is there. Throws when no transition leads
   * there, or when its screen requires a field Patchbay cannot fill. A screen's Resolution is
   * set from `options`.
   */
  transition(target: TicketTarget, ticket: TicketRef, statusId: string, options?: TransitionOptions): Promise<"moved" | "already">;
  comment(target: TicketTarget, ticket: TicketRef, blocks: Block[]): Promise<void>;
  /** The account Patchbay acts as, as the tracker's events name it (its own changes are ignored). */
  whoami?(): Promise<string>;
  /** Resolutions a ticket can be closed with, where the tracker has them (Jira). */
  resolutions?(): Promise<TrackerChoice[]>;
  /**
   * The live status of each ticket (reconciliation), by ticket id; a ticket the tracker no
   * longer has is missing from the map. Called with at most 50 tickets.
   */
  states(target: TicketTarget, tickets: TicketRef[]): Promise<Map<string, TrackerChoice & { movedTo?: TicketRef }>>;
  /** The ticket a person names by key or address, when it exists in this project; undefined otherwise. */
  lookup(target: TicketTarget, reference: string): Promise<ExistingTicket | undefined>;
  /** The project's tickets whose titles name a CVE, oldest first, at most `limit` (to link instead of duplicating). */
  withCves(target: TicketTarget, limit: number): Promise<ExistingTicket[]>;
}

/** What an update did not change: tracker field ids the tracker would not take now. */
export interface UpdateOutcome {
  ignored: string[];
  /** Why, in the tracker's words: "not on Jira's edit screen". */
  reason?: string;
}

/** What a transition's screen is filled with. */
export interface TransitionOptions {
  /** The resolution the mapping gives this Patchbay status (a Jira resolution id). */
  resolutionId?: string;
  /** Why the ticket moves: a screen that requires a resolution gets a fitting one when the mapping names none. */
  reason?: "resolved" | "accepted" | "reopened";
}

/** A ticket that exists in the tracker, with its title. */
export interface ExistingTicket extends TicketRef {
  title: string;
}

/** CVE identifiers in a text (a ticket's title). */
export { cvesIn };

/** A change a person (or Patchbay itself) made to a ticket, as the tracker's event reports it. */
export interface TicketEvent {
  /** The ticket as the tracker names it: its id and key, either of which finds it. */
  ticket: { id?: string; key?: string };
  /** When the tracker made the change: deliveries arrive out of order, and older ones are ignored. */
  at: string;
  /** Who made it, as the tracker identifies accounts (Patchbay's own account is ignored). */
  actor: { id: string; name: string };
  /** The ticket's status after the change, when the change touched it. */
  status?: { id: string; name: string };
  /** Its resolution then (Jira: Done, Won't Do, Duplicate…), where the tracker has them. */
  resolution?: { id: string; name: string };
  /** A comment written with the change, or the comment the event is about. */
  comment?: { id: string; text: string };
  /** The ticket now lives elsewhere (GitHub: transferred to another repository): where, and how it got there. */
  movedTo?: { to: TicketRef; how: string };
}

/** Events from the tracker: how they are authenticated and read. */
export interface TrackerInbound {
  /** The setting holding the secret deliveries are verified with. */
  secretField: string;
  /** Checks a delivery (signature over its bytes or secret header, compared in constant time) and reads its id and event. */
  verify(headers: Headers, body: WebhookBody, secret: string, now: Date): WebhookCheck;
  /** Headers one of which every signed delivery carries: without one, the body is not read. */
  signatureHeaders?: string[];
  /** The largest delivery the service documents sending (bytes); 10 MB when unset. */
  maxBodyBytes?: number;
  /** The ticket change in a verified delivery, or undefined for events that do not concern tickets. */
  parse(event: string, rawBody: string, contentType: string): TicketEvent | undefined;
  /** What to configure on the tracker's side, for a person who sets it up by hand. */
  instructions(hook: { url: string; filter: string }): string[];
  /** Creates (or corrects) the tracker's webhook where the account may; throws ExternalError "permission" when it may not. */
  register?(connection: ConnectionSettings, ctx: ConnectorContext, hook: { url: string; secret: string; filter: string }): Promise<"created" | "updated">;
  /** Whether the tracker still has Patchbay's webhook; undefined when the account may not tell. */
  registered?(connection: ConnectionSettings, ctx: ConnectorContext, url: string): Promise<boolean | undefined>;
  /** The filter that limits events to Patchbay's tickets (a JQL query), shown beside the URL. */
  filter: string;
}

/** Tracker capability: tickets in the team's tracker. */
export interface Tracker {
  /** Words for the tracker's things: { project: "project", ticketType: "issue type", ticket: "issue" }. */
  nouns: { project: string; ticketType: string; ticket: string };
  /** How descriptions reach it: "Atlassian Document Format", "Markdown", "HTML", "plain text". */
  descriptionFormat: string;
  session(connection: ConnectionSettings, ctx: ConnectorContext): TrackerSession;
  /** Present when the tracker sends events about its tickets (two-way sync). */
  inbound?: TrackerInbound;
}

/** A message about something that happened, in a neutral form each notifier renders. */
export interface Notification {
  /** The event it reports: "ticket.push_failed", "scan.failed", "test"… */
  event: string;
  level: "error" | "warning" | "info";
  /** A few words: "Pushing a ticket to Security bugs failed". */
  title: string;
  /** A sentence or two. */
  text: string;
  facts: { label: string; value: string }[];
  /** The Patchbay page concerned (PATCHBAY_BASE_URL), or the external page. */
  link?: { label: string; url: string };
  /** Further events of the same rule collapsed into this message. */
  more: number;
  /** The channel ownership routing chose for what the event concerns (Slack with a bot token posts there). */
  channel?: string;
  at: string;
}

/** Notifier capability: send a message; throws ExternalError when the service refuses. */
export interface Notifier {
  send(connection: ConnectionSettings, ctx: ConnectorContext, notification: Notification): Promise<void>;
  /** For notifiers that post to a routed channel (ownership routing): why this is not a channel they can name, or undefined. */
  channelProblem?(channel: string): string | undefined;
}

/** OAuth 2.0 authorization code flow with the team's own OAuth application. */
export interface OAuthProvider {
  /** The provider's authorization and token endpoints, for these settings (self-managed servers). */
  endpoints(settings: SettingValues): { authorize: string; token: string };
  scopes: string[];
  /** Send a PKCE S256 code challenge. */
  pkce: boolean;
  /** How the client authenticates at the token endpoint. */
  clientAuth: "body" | "basic";
  /** Settings that name the OAuth application's client id and secret. */
  clientIdField: string;
  clientSecretField: string;
  /** The secret the access token is stored under, as the token alternative stores it. */
  tokenSecret: string;
  /** Other secrets that connect without a token (a GitHub App's private key). */
  tokenAlternatives?: string[];
}

/** A connector: its card, its settings, and the parts of the contract it implements. */
export interface Connector {
  card: Card;
  /** True when the seed allows several connections of this kind (two GitLab servers). */
  multiInstance: boolean;
  fields: SettingField[];
  /** Checks the settings against the real service; throws ExternalError on failure. */
  test(connection: ConnectionSettings, ctx: ConnectorContext): Promise<TestResult>;
  /**
   * What will break before it does: a token's expiry where the service tells it, scopes it
   * lacks. Run daily; the notes show on the card and new warnings are sent as notifications.
   */
  health?(connection: ConnectionSettings, ctx: ConnectorContext, now: Date): Promise<HealthNote[]>;
  /** Connector-specific troubleshooting; the hub falls back to the generic advice. */
  troubleshoot?(error: ExternalError): Advice | undefined;
  /** A name for a new connection, from its settings ("Wiz us17"). */
  defaultName(settings: SettingValues): string;
  /** Present when the connector imports findings. */
  scanner?: Scanner;
  /** Present when the connector is source control. */
  scm?: SourceControl;
  /** Present when the connector pushes tickets. */
  tracker?: Tracker;
  /** Present when the connector sends notifications. */
  notifier?: Notifier;
  /** Present when the connector lists container images. */
  registry?: ContainerRegistry;
  packages?: PackageRegistry;
  /** Present when the connector answers which advisories affect a package version. */
  advisories?: AdvisoryDatabase;
  /** Present when the connector can connect by OAuth (the seed's default for source control). */
  oauth?: OAuthProvider;
  /** Present when the service documents how fast one credential may write: Patchbay keeps below it. */
  pacing?: Pacing;
}

/**
 * How fast Patchbay writes with one credential. A write is any request but GET and HEAD (the
 * service's "content-creating" requests); every request counts toward `concurrent`.
 */
export interface PaceLimits {
  perMinute?: number;
  perHour?: number;
  concurrent?: number;
}

/** A service's documented ceilings, which Patchbay keeps under before the service has to refuse. */
export interface Pacing {
  /** The documented ceilings: the defaults, which an integration's settings may change. */
  defaults: PaceLimits;
  /** Whose numbers they are, as estimates name them: "GitHub's limits". */
  basis: string;
  /** Writes a new ticket costs (the create, labels added after it…), for estimates. */
  writesPerTicket: number;
}

/** One finding of a health check. */
export interface HealthNote {
  level: "warning" | "error";
  message: string;
}

/** Days before a token's expiry from which health checks warn. */
export const EXPIRY_WARNING_DAYS = 14;

/** A note about an expiry date, if it is near or past. */
export function expiryNote(what: string, expiresAt: number, now: Date): HealthNote | undefined {
  const days = Math.floor((expiresAt - now.getTime()) / 86_400_000);
  const date = new Date(expiresAt).toISOString().slice(0, 10);
  if (days < 0) return { level: "error", message: `${what} expired on ${date}: create a new one and enter it in the Configuration tab.` };
  if (days <= EXPIRY_WARNING_DAYS)
    return {
      level: "warning",
      message: `${what} expires on ${date} (in ${days} day${days === 1 ? "" : "s"}): create a new one and enter it in the Configuration tab before then.`,
    };
  return undefined;
}

/** What an exploitation feed holds: its rows, the date of its data and (EPSS) the model's version. */
export interface FeedData<R> {
  date: string | null;
  modelVersion: string | null;
  rows: R[];
}

/**
 * A feed of exploitation data (CISA KEV, FIRST EPSS): read from a URL — the public default, or an
 * internal mirror for an air-gapped site — or uploaded by hand, and parsed strictly: a file that
 * cannot be read whole is an error, never a partial load.
 */
export interface ExploitationFeed<R> {
  id: "kev" | "epss";
  name: string;
  defaultUrl: string;
  /** Where the data comes from and what it is, for the settings page. */
  about: string;
  fetch(url: string, ctx: ConnectorContext): Promise<Uint8Array>;
  parse(bytes: Uint8Array): FeedData<R>;
}

export class FeedFormatError extends Error {}
