// Importing an uploaded scan report. The bytes stream through the format's reader (never held
// whole); the records it yields are spooled to a temporary file. Only a report read to its end
// without error is imported — a bad file changes nothing. Then the asset is resolved (a known
// repository, or an image by digest), what the format left open is completed (installed
// versions from the dependency monitor's inventory, CVE aliases and SBOM packages' advisories
// from the advisory database), and the records are imported like a scanner's, in batches. A
// "full result" upload resolves that tool's findings on that asset that it no longer reports.
// The spool lives in the spool folder (PATCHBAY_SPOOL_DIR) until the import ends: a process
// that dies after the report was completely spooled resumes the import as a durable job at its
// next start; one that died before is marked interrupted (nothing was imported). Never half-done.
import { findIntegration } from "../integrations/store.js";
import type { Services } from "../services.js";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { connectorContext } from "../connectors/context.js";
import type { AssetRef, ConnectionSettings, ConnectorContext, ScannerRecord, ScannerSeverity } from "../connectors/types.js";
import type { Db, Integration } from "../db/schema.js";
import { createWorkspace } from "../dependencies/workspace.js";
import { severityOfScore } from "../vuln/cvss.js";
import { IMPORTED_TABLES, type SyncCounts, emptyCounts, importPage, mergeCounts, resolveUnreported, sourceId } from "../findings/import.js";
import { loadRepositoryIndex } from "../findings/repositories.js";
import { recordImageScan, resolveSources } from "../findings/store.js";
import { ExternalError } from "../http.js";
import { connectionFor } from "../integrations/oauth.js";
import { requestTicketSweep } from "../tickets/sweep.js";
import { enqueue, jobKind } from "../jobs/queue.js";
import { dialectOf, refreshStatistics } from "../db/dialect.js";
import { isStorageFull } from "../db/storage.js";
import type { JobHandler } from "../jobs/worker.js";
import { CycloneDxXmlReader } from "./cyclonedx-xml.js";
import {
  FORMAT_LABELS,
  FORMAT_SHAPES,
  type FormatId,
  FormatError,
  type ReportSummary,
  type SbomPackage,
  type Sink,
  type UploadItem,
  detectFormat,
  formatReader,
} from "./formats.js";
import { JsonSelector, JsonStreamError } from "./json-stream.js";
import { packageKey } from "../vuln/packages.js";
import { isCveId } from "../vuln/advisories.js";

export const MAX_UPLOAD_BYTES = 200 * 1024 * 1024;
const DETECT_BYTES = 8192;
const SPOOL_LINES = 2000;
const IMPORT_BATCH = 2000;

export const UPLOAD_RESUME_JOB = jobKind<{ uploadId: number }>("upload.resume", {
  label: "Upload import",
  maxAttempts: 3,
  dedupe: (p) => `upload.resume:${p.uploadId}`,
});
/** Written once the report was read to its end: from then on the upload can be resumed. */
const SPOOLED = "spooled.json";

/**
 * The process (replica) whose spool folder holds an upload's files: its host and the folder. A
 * replica restarted on the same folder is the same owner, and resumes what it had spooled.
 */
export function spoolOwner(spoolDir: string): string {
  return `${os.hostname()}:${spoolDir}`;
}

/** How often the receiving process says it is alive, and after how long without a sign another replica gives its upload up. */
const HEARTBEAT_MS = 20_000;
const RECEIVER_GONE_MS = 15 * 60_000;

/** Marks the upload as alive (received or imported by this process) until stopped. */
function heartbeat(deps: Services, uploadId: number): () => void {
  const beat = () =>
    deps.db
      .updateTable("uploads")
      .set({ receiver: spoolOwner(deps.spoolDir), seen_at: deps.now().toISOString() })
      .where("id", "=", uploadId)
      .execute()
      .catch(() => undefined); // a beat missed (a full disk, a moment without the database) is made up by the next
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** What an upload asked for, kept with its spool. */
type UploadRequest = Pick<UploadInput, "by" | "format" | "asset" | "full">;

function uploadDir(spoolDir: string, uploadId: number): string {
  return path.join(spoolDir, `upload-${uploadId}`);
}

export interface UploadInput {
  /** "token ci-main" or "user alice", for the upload's record and the findings' history. */
  by: string;
  format: FormatId | null;
  /** A repository URL or name, or an image reference; else what the report names. */
  asset: string | null;
  /** The report is the full result for the asset: what it no longer reports is resolved. */
  full: boolean;
  body: AsyncIterable<Uint8Array>;
  /** The Content-Encoding the client declared ("gzip"), if any; gzip is also told by its magic bytes. */
  encoding?: string | null;
}

/**
 * The report's bytes, gunzipped where the client said gzip or the bytes start with gzip's magic
 * number (CI tools compress large reports). The size limit is applied to what comes out, so a
 * small gzip that inflates without end is refused like a large report.
 */
async function* decodedBody(body: AsyncIterable<Uint8Array>, encoding: string | null | undefined): AsyncIterable<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value;
  const all = async function* () {
    yield head;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  };
  const gzip = (encoding ?? "").trim().toLowerCase() === "gzip" || (head[0] === 0x1f && head[1] === 0x8b);
  if (!gzip) return yield* all();
  const gunzip = zlib.createGunzip();
  const source = Readable.from(all());
  source.on("error", (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Uint8Array;
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith("Z_"))
      throw new UploadRejected(
        400,
        `The report is not valid gzip (${(err as Error).message}). Send it as it was compressed, or uncompressed. Nothing was imported.`,
      );
    throw err;
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}

export interface UploadResult {
  upload: number;
  format: FormatId;
  tool: string;
  asset: { kind: "repository" | "container_image" | "kubernetes_cluster"; name: string };
  /** A Kubernetes report: the images its records were imported to. */
  images?: number;
  created: number;
  updated: number;
  unchanged: number;
  resolved: number;
  skipped: number;
  reasons: Record<string, number>;
}

/** A report refused: the status to answer with and a message saying what to fix. */
export class UploadRejected extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413 | 422 | 503,
    message: string,
    /** Seconds to wait before sending the report again (a 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "UploadRejected";
  }
}

type Asset =
  | { kind: "repository"; key: string; name: string; url: string | null; repositoryId: number }
  | { kind: "container_image"; key: string; name: string; digest: string };
/** What an upload is about: one asset, or a Kubernetes cluster whose records each name their image. */
type UploadTarget = Asset | { kind: "kubernetes_cluster"; key: string; name: string };

interface Parsed {
  format: FormatId;
  summary: ReportSummary;
  spool: string;
  items: number;
  /** SBOM packages to look up, spooled beside the items (an SBOM can list 100,000s). */
  sbomSpool: string;
  sbomCount: number;
  skipped: Record<string, number>;
  bytes: number;
}

const bump = (into: Record<string, number>, reason: string, n = 1) => (into[reason] = (into[reason] ?? 0) + n);

/** Streams the body through the format's reader; the items go to a spool file. */
async function parse(input: UploadInput, dir: string): Promise<Parsed> {
  const spool = path.join(dir, "items.ndjson");
  const pending: string[] = [];
  const flush = () => {
    if (pending.length) fs.appendFileSync(spool, pending.join("\n") + "\n");
    pending.length = 0;
  };
  const sbomSpool = path.join(dir, "sbom.ndjson");
  const pendingSbom: string[] = [];
  const flushSbom = () => {
    if (pendingSbom.length) fs.appendFileSync(sbomSpool, pendingSbom.join("\n") + "\n");
    pendingSbom.length = 0;
  };
  const skipped: Record<string, number> = {};
  let items = 0;
  let sbomCount = 0;
  const sink: Sink = {
    item(item) {
      pending.push(JSON.stringify(item));
      items++;
      if (pending.length >= SPOOL_LINES) flush();
    },
    sbom(pkg) {
      pendingSbom.push(JSON.stringify(pkg));
      sbomCount++;
      if (pendingSbom.length >= SPOOL_LINES) flushSbom();
    },
    skip: (reason) => bump(skipped, reason),
  };
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let head = "";
  let bytes = 0;
  let format: FormatId | null = input.format;
  let write: ((text: string) => void) | undefined;
  let end: (() => ReportSummary) | undefined;
  const start = (text: string) => {
    format ??= detectFormat(text) ?? null;
    if (!format)
      throw new UploadRejected(
        422,
        `The file's format was not recognised: ${whatItIs(text)}. Upload ${Object.values(FORMAT_LABELS).join(", ")}, or name the format (format=trivy, …). Nothing was imported.`,
      );
    if (format === "cyclonedx-xml") {
      const reader = new CycloneDxXmlReader(sink);
      write = (t) => reader.write(t);
      end = () => reader.end();
    } else {
      const named = input.format !== null;
      const reader = formatReader(format, sink);
      const shape = FORMAT_SHAPES[format];
      const label = FORMAT_LABELS[format];
      let toolError: unknown;
      let values = 0;
      // A tool's own error document ({"error": …}) is read too, to be quoted.
      const json = new JsonSelector([...reader.selectors, ["error"]], (p, v) => {
        if (p.length === 1 && p[0] === "error") toolError = v;
        else {
          values++;
          reader.onValue(p, v);
        }
      });
      write = (t) => json.write(t);
      end = () => {
        json.end();
        if (!shape.test(json.topKeys, json.root, values)) {
          if (toolError !== undefined)
            throw new UploadRejected(
              422,
              `${label.split(" JSON")[0]} wrote an error instead of a report: "${toolErrorText(toolError)}". Fix what it says and run the scan again. Nothing was imported.`,
            );
          const found = json.root === "array" ? "it is a JSON array" : `its top-level keys are ${quotedKeys(json.topKeys)}`;
          throw new UploadRejected(
            422,
            `${named ? `format=${format} was named, but the` : "The"} file is not ${shape.expects}: ${found}. Nothing was imported.`,
          );
        }
        return reader.finish();
      };
    }
    write(text);
  };
  try {
    for await (const chunk of decodedBody(input.body, input.encoding)) {
      bytes += chunk.byteLength;
      if (bytes > MAX_UPLOAD_BYTES)
        throw new UploadRejected(
          413,
          `The file is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB. Split the report (one per image or repository) and upload each.`,
        );
      const text = decoder.decode(chunk, { stream: true });
      if (write) write(text);
      else {
        head += text;
        if (head.length >= DETECT_BYTES) {
          start(head);
          head = "";
        }
      }
    }
    const rest = decoder.decode();
    if (!write) start(head + rest);
    else if (rest) write(rest);
    const summary = end!();
    flush();
    flushSbom();
    return { format: format!, summary, spool, items, sbomSpool, sbomCount, skipped, bytes };
  } catch (err) {
    if (err instanceof UploadRejected) throw err;
    const what = format ? FORMAT_LABELS[format] : "report";
    if (err instanceof JsonStreamError) throw new UploadRejected(400, `The ${what} is not valid JSON at ${err.message}. Nothing was imported.`);
    if (err instanceof FormatError) throw new UploadRejected(err.kind === "syntax" ? 400 : 422, `${err.message} Nothing was imported.`);
    if (err instanceof TypeError && /encoded data was not valid|invalid/i.test(err.message))
      throw new UploadRejected(400, "The file is not UTF-8 text. Upload the report as the scanner wrote it (JSON or XML). Nothing was imported.");
    throw err;
  }
}

function quotedKeys(keys: Set<string>): string {
  const list = [...keys].slice(0, 12).map((k) => `"${k.slice(0, 60)}"`);
  return list.length ? list.join(", ") + (keys.size > 12 ? ", …" : "") : "none";
}

/** What an unrecognised file's first bytes are: its top-level JSON keys, a JSON array, or neither. */
function whatItIs(head: string): string {
  const text = head.replace(/^\uFEFF/, "").trimStart();
  if (text.startsWith("[")) return "it is a JSON array";
  if (!text.startsWith("{")) return text.startsWith("<") ? "it is XML without a CycloneDX <bom>" : "it is neither JSON nor XML";
  let toolError: unknown;
  const probe = new JsonSelector([["error"]], (_path, value) => (toolError = value));
  try {
    probe.write(text);
  } catch {
    // The keys read before the error are what we can say.
  }
  if (toolError !== undefined) return `it is an error a tool wrote instead of a report: "${toolErrorText(toolError)}"`;
  return `top-level keys: ${quotedKeys(probe.topKeys)}`;
}

/** A tool's error document in its own words: npm's {code, summary, detail}, or a message. */
function toolErrorText(error: unknown): string {
  if (typeof error === "string") return error.slice(0, 500);
  const e = (typeof error === "object" && error !== null ? error : {}) as Record<string, unknown>;
  const words = [e.code, e.summary ?? e.message, e.detail].filter((w): w is string => typeof w === "string" && w.trim() !== "");
  return (words.length ? `${words[0]}${words.length > 1 ? `: ${words.slice(1).join(" ")}` : ""}` : JSON.stringify(error)).slice(0, 500);
}

/** The advisory database has this long to answer everything an upload asks; then the upload is refused (503). */
const LOOKUP_DEADLINE_MS = 25_000;
const LOOKUP_RETRY_AFTER_S = 60;

/** The answer, unless the deadline passes or the service fails first: then the upload is refused, nothing written. */
async function withinDeadline<T>(question: Promise<T>, deadline: number, service: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UploadRejected(
            503,
            `${service} did not answer within ${LOOKUP_DEADLINE_MS / 1000} s while completing the report (CVE aliases, SBOM packages' advisories). Nothing was imported: send the report again in a minute.`,
            LOOKUP_RETRY_AFTER_S,
          ),
        ),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([question, late]);
  } catch (err) {
    if (err instanceof ExternalError)
      throw new UploadRejected(
        503,
        `${service} could not complete the report: ${err.message} Nothing was imported: send the report again later.`,
        LOOKUP_RETRY_AFTER_S,
      );
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The records of a spool file, one JSON line each. */
async function* spooled<T>(file: string): AsyncIterable<T> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, "utf8"), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as T;
}

/** "registry.example.com/acme/api:1.0@sha256:…" → its name and digest. */
function imageRef(ref: string): { name: string; digest: string | null } | undefined {
  const m = /^([a-z0-9.-]+(?::\d+)?\/)?([a-z0-9._/-]+)(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/.exec(ref.trim());
  if (!m) return undefined;
  return { name: `${m[1] ?? ""}${m[2]}${m[3] ?? ""}`, digest: m[4] ? m[4].slice(1) : null };
}

async function resolveTarget(db: Db, named: string | null, summary: ReportSummary): Promise<UploadTarget> {
  if (summary.cluster === undefined) return resolveAsset(db, named, summary);
  if (named)
    throw new UploadRejected(
      400,
      `This is a Kubernetes report (trivy k8s) about every image in cluster "${summary.cluster}": each image is its own asset, so asset= cannot name one. Upload it without asset=.`,
    );
  return { kind: "kubernetes_cluster", key: `cluster:${summary.cluster}`, name: `Kubernetes cluster ${summary.cluster}` };
}

/** An image a record names ("name@sha256:…", or "name:tag" Patchbay knows the digest of); else why it cannot be imported. */
async function resolveImage(db: Db, ref: string): Promise<Asset | string> {
  const image = imageRef(ref);
  if (!image) return "image reference not readable";
  const digest = image.digest ?? (await knownDigest(db, image.name));
  return digest ? { kind: "container_image", key: `image:${digest}`, name: image.name, digest } : "image without a digest, and not known to Patchbay";
}

async function resolveAsset(db: Db, named: string | null, summary: ReportSummary): Promise<Asset> {
  const repositories = await loadRepositoryIndex(db);
  const repositoryRef = named ?? summary.repository ?? null;
  if (repositoryRef && !(named && !summary.repository && imageRef(named)?.digest)) {
    const repo = repositories.match({ name: repositoryRef, url: /[/:.]/.test(repositoryRef) ? repositoryRef : null });
    if (repo) return { kind: "repository", key: `repository:${repo.full_name.toLowerCase()}`, name: repo.full_name, url: repo.url, repositoryId: repo.id };
  }
  const ref = named ?? summary.image ?? null;
  const image = ref ? imageRef(ref) : undefined;
  if (image) {
    const digest = image.digest ?? (!named || named === summary.image ? summary.digest : undefined) ?? (await knownDigest(db, image.name));
    if (digest) return { kind: "container_image", key: `image:${digest}`, name: image.name, digest };
    if (!named || /[@:]/.test(named) || named.split("/")[0]!.includes(".")) {
      throw new UploadRejected(
        400,
        `The image ${image.name} is not known to Patchbay and the report gives no digest: name it by digest (asset=${image.name}@sha256:…).`,
      );
    }
  }
  if (named)
    throw new UploadRejected(
      404,
      `No repository "${named}" is known to Patchbay: connect the source control integration that has it (its repositories are listed on the Repositories page), or check the URL.`,
    );
  throw new UploadRejected(400, "The report does not say which repository or image it scanned: name it with asset=<repository URL or image@sha256:digest>.");
}

/** The digest of an image the registries (or scanners) already list under this name. */
async function knownDigest(db: Db, name: string): Promise<string | undefined> {
  const withTag = /:[\w][\w.-]*$/.test(name.split("/").at(-1)!) ? name : `${name}:latest`;
  const row = await db
    .selectFrom("assets")
    .select("asset_key")
    .where("kind", "=", "container_image")
    .where("name", "=", withTag)
    .where("gone_at", "is", null)
    .executeTakeFirst();
  return row?.asset_key.replace(/^image:/, "");
}

/** The connected advisory database (the dependency monitor), if any. */
async function advisoryDatabase(deps: Services, ctx: ConnectorContext) {
  for (const integration of await deps.db.selectFrom("integrations").selectAll().execute()) {
    const connector = deps.catalogue.get(integration.kind);
    if (connector?.advisories) {
      const connection: ConnectionSettings = await connectionFor(deps, connector, integration);
      return {
        name: integration.name,
        lookup: connector.advisories.lookup.bind(null, connection, ctx),
        aliases: connector.advisories.aliases.bind(null, connection, ctx),
      };
    }
  }
  return undefined;
}

export async function importUpload(deps: Services, integration: Integration, input: UploadInput): Promise<UploadResult> {
  const { db } = deps;
  const started = deps.now();
  const upload = await db
    .insertInto("uploads")
    .values({
      integration_id: integration.id,
      by: input.by,
      format: input.format,
      asset: input.asset,
      full_result: input.full ? 1 : 0,
      status: "running",
      created_at: started.toISOString(),
      receiver: spoolOwner(deps.spoolDir),
      seen_at: started.toISOString(),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  const stopBeating = heartbeat(deps, upload.id);
  const dir = uploadDir(deps.spoolDir, upload.id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const request: UploadRequest = { by: input.by, format: input.format, asset: input.asset, full: input.full };
  try {
    const parsed = await parse(input, dir);
    // The report is completely spooled: a crash from here on resumes the import.
    const { spool: _spool, sbomSpool: _sbomSpool, ...kept } = parsed;
    fs.writeFileSync(path.join(dir, `${SPOOLED}.tmp`), JSON.stringify({ request, parsed: kept }), { mode: 0o600 });
    fs.renameSync(path.join(dir, `${SPOOLED}.tmp`), path.join(dir, SPOOLED));
    return await finishUpload(deps, integration, upload.id, request, parsed);
  } catch (err) {
    await settleFailure(deps, upload.id, err);
    throw err;
  } finally {
    stopBeating();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function settleFailure(deps: Services, uploadId: number, err: unknown): Promise<void> {
  const rejected = err instanceof UploadRejected;
  try {
    await deps.db
      .updateTable("uploads")
      .set({ status: rejected ? "rejected" : "failed", error: err instanceof Error ? err.message : String(err), finished_at: deps.now().toISOString() })
      .where("id", "=", uploadId)
      .execute();
  } catch (settling) {
    // A full disk fails this write too: the next start marks the upload interrupted.
    if (!isStorageFull(settling)) throw settling;
  }
}

/** From a complete spool: the asset, the import, the upload's record. */
async function finishUpload(deps: Services, integration: Integration, uploadId: number, request: UploadRequest, parsed: Parsed): Promise<UploadResult> {
  const asset = await resolveTarget(deps.db, request.asset, parsed.summary);
  const result = await importParsed(deps, integration, request, parsed, asset, uploadId);
  // The image was scanned, even where the report found nothing: the evidence a base image fix needs.
  if (asset.kind === "container_image") await recordImageScan(deps.db, asset, deps.now().toISOString());
  try {
    await deps.db
      .updateTable("uploads")
      .set({
        status: "succeeded",
        format: parsed.format,
        tool: parsed.summary.tool,
        asset: asset.name,
        bytes: parsed.bytes,
        counts: JSON.stringify(result),
        finished_at: deps.now().toISOString(),
      })
      .where("id", "=", uploadId)
      .execute();
  } catch (err) {
    // The findings are committed: the answer says so even if the upload's own record could not be.
    if (!isStorageFull(err)) throw err;
    deps.env.logger.error("upload imported, but its record could not be updated: storage full", { uploadId });
  }
  return result;
}

/**
 * At start: uploads this process left running when it stopped (or an older version, which did not
 * say who received them). One whose report was completely spooled is resumed by a durable job
 * pinned to this process (only its worker can read the spool); one still being received is
 * marked interrupted. Uploads other replicas receive are theirs; one whose receiver has given no
 * sign of life for 15 minutes is marked interrupted. Spool folders of uploads that are over go.
 */
export async function recoverUploads(deps: Services): Promise<{ resumed: number; interrupted: number }> {
  const { db } = deps;
  const now = deps.now();
  const me = spoolOwner(deps.spoolDir);
  // On SQLite one process is all there is: whatever it left running is its own, under any host name (a new container).
  const alone = dialectOf(db) === "sqlite";
  let resumed = 0;
  let interrupted = 0;
  const keep = new Set<string>();
  const running = await db.selectFrom("uploads").select(["id", "receiver"]).where("status", "=", "running").execute();
  if (!alone) interrupted += await giveUpAbandonedUploads(db, now, me);
  for (const { id, receiver } of running) {
    if (!alone && receiver !== null && receiver !== me) continue;
    const dir = uploadDir(deps.spoolDir, id);
    if (fs.existsSync(path.join(dir, SPOOLED))) {
      await db.updateTable("uploads").set({ receiver: me, seen_at: now.toISOString() }).where("id", "=", id).execute();
      await enqueue(db, UPLOAD_RESUME_JOB, { uploadId: id }, now, alone ? {} : { pinnedTo: me });
      keep.add(path.basename(dir));
      resumed++;
    } else {
      await interruptUpload(db, id, "Patchbay stopped before the report was completely received. Nothing was imported: upload it again.", now);
      interrupted++;
    }
  }
  if (fs.existsSync(deps.spoolDir)) {
    for (const entry of fs.readdirSync(deps.spoolDir)) {
      if (!keep.has(entry)) fs.rmSync(path.join(deps.spoolDir, entry), { recursive: true, force: true });
    }
  }
  return { resumed, interrupted };
}

/**
 * Uploads whose receiving replica has given no sign of life for 15 minutes (it died and did not
 * come back on its spool folder): marked interrupted, for CI to send again. At every start, and
 * hourly (the clean-up job), so that none stays "running" for ever. `except`: this process's own.
 */
export async function giveUpAbandonedUploads(db: Db, now: Date, except?: string): Promise<number> {
  const silent = await db
    .selectFrom("uploads")
    .select(["id", "receiver"])
    .where("status", "=", "running")
    .where("receiver", "is not", null)
    .$if(except !== undefined, (q) => q.where("receiver", "!=", except!))
    .where("seen_at", "<", new Date(now.getTime() - RECEIVER_GONE_MS).toISOString())
    .execute();
  for (const { id, receiver } of silent)
    await interruptUpload(
      db,
      id,
      `The Patchbay replica that received it (${receiver!.split(":")[0]}) stopped before importing it and has not come back. Nothing was imported: upload it again.`,
      now,
    );
  return silent.length;
}

/** An upload still running given up, with the reason its page shows. */
async function interruptUpload(db: Db, id: number, error: string, now: Date): Promise<void> {
  await db
    .updateTable("uploads")
    .set({ status: "interrupted", error, finished_at: now.toISOString() })
    .where("id", "=", id)
    .where("status", "=", "running")
    .execute();
}

/** Job `upload.resume`: imports a completely spooled upload whose process stopped. */
export function uploadResumeHandler(deps: Services): JobHandler<{ uploadId: number }> {
  return async ({ payload, logger, job }) => {
    const { uploadId } = payload;
    const upload = await deps.db.selectFrom("uploads").selectAll().where("id", "=", uploadId).executeTakeFirst();
    const dir = uploadDir(deps.spoolDir, uploadId);
    const integration = upload && (await findIntegration(deps.db, upload.integration_id));
    if (!upload || upload.status !== "running" || !integration || !fs.existsSync(path.join(dir, SPOOLED))) {
      if (upload?.status === "running")
        await settleFailure(deps, uploadId, new Error("The upload's spool or its integration is gone; upload the report again."));
      fs.rmSync(dir, { recursive: true, force: true });
      return;
    }
    const { request, parsed } = JSON.parse(fs.readFileSync(path.join(dir, SPOOLED), "utf8")) as {
      request: UploadRequest;
      parsed: Omit<Parsed, "spool" | "sbomSpool">;
    };
    const stopBeating = heartbeat(deps, uploadId);
    try {
      const result = await finishUpload(deps, integration, uploadId, request, {
        ...parsed,
        spool: path.join(dir, "items.ndjson"),
        sbomSpool: path.join(dir, "sbom.ndjson"),
      });
      logger.info("upload resumed and imported", { uploadId, created: result.created, updated: result.updated });
    } catch (err) {
      // A rejection is final; anything else is retried, and reported on the last attempt.
      if (err instanceof UploadRejected || job.attempts >= job.max_attempts) await settleFailure(deps, uploadId, err);
      else throw err;
    } finally {
      stopBeating();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

async function importParsed(
  deps: Services,
  integration: Integration,
  input: UploadRequest,
  parsed: Parsed,
  target: UploadTarget,
  uploadId: number,
): Promise<UploadResult> {
  const { db } = deps;
  const ctx: ConnectorContext = { ...connectorContext(deps.env), workspace: createWorkspace(deps) };
  const tool = parsed.summary.tool;
  const actor = `upload: ${tool} by ${input.by}`;
  const reasons: Record<string, number> = { ...parsed.skipped };
  const advisories = await advisoryDatabase(deps, ctx);
  if (parsed.sbomCount && !advisories) {
    throw new UploadRejected(
      409,
      "An SBOM lists packages without their vulnerabilities: connect the Patchbay dependency monitor (Integration Hub → Package Registries) so Patchbay can look them up in OSV, then upload again.",
    );
  }

  // Installed versions the report does not give, from the repository's recorded lockfiles.
  const installed = new Map<string, string[]>();
  // The asset of each record: the upload's, or in a Kubernetes report the image it names.
  const images = new Map<string, Asset | string>();
  const assetOf = async (item: UploadItem): Promise<Asset | string> => {
    if (target.kind !== "kubernetes_cluster") return target;
    if (!item.image) return "no image named for this Kubernetes resource";
    if (!images.has(item.image)) images.set(item.image, await resolveImage(db, item.image));
    return images.get(item.image)!;
  };
  const assetKeys = new Set<string>();
  const versionsOf = async (asset: Asset, name: string, ecosystem: string | null): Promise<string[]> => {
    if (asset.kind !== "repository") return [];
    const key = `${ecosystem}:${name}`;
    if (!installed.has(key)) {
      const rows = await db
        .selectFrom("repository_dependencies")
        .select("version")
        .distinct()
        .where("repository_id", "=", asset.repositoryId)
        .where("name", "=", name)
        .where("ecosystem", "=", ecosystem ?? "npm")
        .execute();
      installed.set(
        key,
        rows.map((r) => r.version),
      );
    }
    return installed.get(key)!;
  };
  // First, all the advisory database must tell (CVE aliases, SBOM packages' advisories), within
  // a deadline: if it cannot answer, the upload is refused before anything is written.
  const deadline = Date.now() + LOOKUP_DEADLINE_MS;
  const ask = <T>(question: Promise<T>) => withinDeadline(question, deadline, advisories?.name ?? "The advisory database");
  const aliasMemo = new Map<string, string[]>();
  if (advisories && parsed.items) {
    const wanted = new Set<string>();
    for await (const item of spooled<UploadItem>(parsed.spool)) if (item.ids[0] && !/^CVE-/.test(item.ids[0])) wanted.add(item.ids[0]);
    // A report can name hundreds of advisories: eight asked at a time keep within the deadline.
    const queue = [...wanted];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) aliasMemo.set(id, await ask(advisories.aliases(id)));
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  }
  const sbomItems: UploadItem[] = [];
  if (parsed.sbomCount) {
    let sbomBatch: SbomPackage[] = [];
    const lookUp = async () => {
      const matches = await ask(advisories!.lookup(sbomBatch));
      for (const [i, pkg] of sbomBatch.entries()) {
        // What the SBOM claims and OSV's ranges do not confirm for this version is not a finding.
        const confirmed = new Set(matches[i]!.flatMap((m) => m.ids.map((id) => id.toUpperCase())));
        for (const claim of pkg.claims ?? [])
          if (!confirmed.has(claim.toUpperCase()))
            bump(reasons, "SBOM security reference whose advisory does not affect the package's version (by OSV's ranges)");
        for (const m of matches[i]!)
          sbomItems.push({
            ids: m.ids,
            package: pkg.name,
            ecosystem: pkg.ecosystem,
            installedVersion: pkg.version,
            fixedVersion: m.fixedVersion,
            severity: m.severity,
            cvss: m.cvss,
            title: m.title,
            description: m.description,
            url: m.url,
            location: pkg.location,
          });
      }
      sbomBatch = [];
    };
    for await (const pkg of spooled<SbomPackage>(parsed.sbomSpool)) {
      sbomBatch.push(pkg);
      if (sbomBatch.length >= 1000) await lookUp();
    }
    if (sbomBatch.length) await lookUp();
  }
  const withCve = (ids: string[]): string[] => {
    const cves = (aliasMemo.get(ids[0] ?? "") ?? []).filter((a) => /^CVE-/.test(a)).sort();
    return [...new Set([...cves, ...ids])];
  };

  // The records imported, by a 12-byte digest of their id: a 200 MB report has 150,000 of them,
  // and their ids (tool, image digest, advisory, package) run to a hundred characters each.
  const seen = new Set<string>();
  const digest = (id: string) => createHash("sha256").update(id).digest("base64").slice(0, 16);
  const counts: SyncCounts = emptyCounts();
  let batch: ScannerRecord[] = [];
  const commit = async () => {
    if (!batch.length) return;
    const records = batch;
    batch = [];
    const repositories = await loadRepositoryIndex(db);
    await db.transaction().execute(async (trx) => {
      mergeCounts(counts, await importPage(trx, records, { integrationId: integration.id, actor, repositories, now: deps.now() }));
    });
    await refreshStatistics(db, IMPORTED_TABLES);
  };
  const add = async (item: UploadItem) => {
    if (!item.ids.length) return bump(reasons, "no vulnerability identifier");
    if (!item.package) return bump(reasons, "no package named");
    if (item.analysis?.state === "resolved") return bump(reasons, "resolved according to the report's VEX analysis");
    const asset = await assetOf(item);
    if (typeof asset === "string") return bump(reasons, asset);
    assetKeys.add(asset.key);
    const versions = item.installedVersion ? [item.installedVersion] : await versionsOf(asset, item.package, item.ecosystem);
    if (!versions.length)
      return bump(reasons, "installed version not given by the report, and not in the repository's lockfiles read by the dependency monitor");
    const ids = withCve(item.ids);
    // One finding per CVE: an advisory (or a group) naming several CVEs is several findings,
    // each deduplicated with other scanners' reports of its CVE.
    const cves = ids.filter(isCveId);
    const identities = cves.length > 1 ? cves.map((cve) => [cve, ...ids.filter((id) => id !== cve)]) : [ids];
    for (const version of versions) {
      for (const identity of identities) {
        const record = toRecord({ ...item, ids: identity, installedVersion: version }, tool, parsed.format, asset);
        const key = digest(sourceId(record.externalId));
        if (seen.has(key)) continue;
        seen.add(key);
        batch.push(record);
        if (batch.length >= IMPORT_BATCH) await commit();
      }
    }
  };

  if (parsed.items) for await (const item of spooled<UploadItem>(parsed.spool)) await add(item);
  for (const item of sbomItems) await add(item);
  await commit();

  const stamp = deps.now();

  // A full result from which nothing could be read says nothing about what is gone.
  const records = parsed.items + parsed.sbomCount + Object.values(parsed.skipped).reduce((a, b) => a + b, 0);
  const unreadable = input.full && records > 0 && seen.size === 0;
  // Each asset the report covered: its records the report no longer gives are resolved. (A
  // clean report about one asset covers it; a Kubernetes report covers the images it names.)
  if (target.kind !== "kubernetes_cluster") assetKeys.add(target.key);
  for (const key of input.full && !unreadable ? assetKeys : []) {
    const prefix = `${tool}:${key}:`;
    await db.transaction().execute(async (trx) => {
      // Read in pages along the (integration, external id) index: a re-uploaded 200 MB report
      // has 150,000 open records to check.
      const gone: { id: number; finding_id: number }[] = [];
      for (let after = prefix; ;) {
        const page = await trx
          .selectFrom("finding_sources")
          .select(["id", "external_id", "finding_id"])
          .where("integration_id", "=", integration.id)
          .where("external_id", ">", after)
          .where("external_id", "<", `${prefix}\uffff`)
          .where("status", "=", "open")
          .orderBy("external_id")
          .limit(5000)
          .execute();
        if (!page.length) break;
        after = page.at(-1)!.external_id;
        for (const s of page) if (!seen.has(digest(s.external_id))) gone.push({ id: s.id, finding_id: s.finding_id });
      }
      await resolveSources(
        trx,
        gone.map((s) => s.id),
        stamp.toISOString(),
      );
      counts.resolved += await resolveUnreported(
        trx,
        [...new Set(gone.map((s) => s.finding_id))],
        actor,
        stamp.toISOString(),
        `No longer reported by ${tool} (full result uploaded)`,
      );
    });
  }
  await db.transaction().execute((trx) => requestTicketSweep(trx, deps.now()));
  for (const [reason, n] of Object.entries(counts.skipped)) bump(reasons, reason, n);
  const skipped = Object.values(reasons).reduce((a, b) => a + b, 0);
  if (unreadable) reasons["full=true ignored: every record of the report was skipped, so nothing was resolved"] = skipped;
  return {
    upload: uploadId,
    format: parsed.format,
    tool,
    asset: { kind: target.kind, name: target.name },
    ...(target.kind === "kubernetes_cluster" ? { images: [...images.values()].filter((a) => typeof a !== "string").length } : {}),
    created: counts.new,
    updated: counts.updated,
    unchanged: counts.unchanged,
    resolved: counts.resolved,
    skipped,
    reasons,
  };
}

/** An upload record's identity: the tool, the asset, the vulnerability and the package as its ecosystem compares names. */
export function uploadRecordId(tool: string, assetKey: string, id: string, ecosystem: string | null, pkg: string, version: string): string {
  return `${tool}:${assetKey}:${id}:${packageKey(ecosystem, pkg)}@${version}`;
}

function toRecord(item: UploadItem, tool: string, format: FormatId, asset: Asset): ScannerRecord {
  const id = item.ids[0]!;
  const severity: ScannerSeverity = item.severity ?? (item.cvss !== null ? severityOfScore(item.cvss) : "medium");
  const ref: AssetRef =
    asset.kind === "repository"
      ? { kind: "repository", repositoryName: asset.name, url: asset.url ?? undefined, details: { location: item.location } }
      : { kind: "container_image", key: asset.digest, name: asset.name, details: { digest: asset.digest, location: item.location } };
  const now = new Date().toISOString();
  const description = [item.description, item.severity || item.cvss !== null ? null : `${tool} gave no severity; Patchbay rates it medium.`]
    .filter(Boolean)
    .join("\n\n")
    .slice(0, 4000);
  return {
    externalId: uploadRecordId(tool, asset.key, id, item.ecosystem, item.package, item.installedVersion),
    raw: { tool, format, ...item },
    finding: {
      cve: id,
      title: item.title ?? `${id} in ${item.package} ${item.installedVersion}`,
      description: description || null,
      severity,
      cvss: item.cvss,
      ecosystem: item.ecosystem,
      package: item.package,
      installedVersion: item.installedVersion,
      fixedVersion: item.fixedVersion,
      firstDetectedAt: now,
      lastSeenAt: now,
      asset: ref,
      url: item.url,
      ...(item.analysis?.state === "false_positive" ? { dismissed: { status: "false_positive" as const, reason: item.analysis.detail } } : {}),
    },
  };
}

/** The latest uploads to an upload integration, newest first. */
export async function recentUploads(db: Db, integrationId: number, limit = 50, before?: number) {
  return db
    .selectFrom("uploads")
    .selectAll()
    .where("integration_id", "=", integrationId)
    .$if(before !== undefined, (q) => q.where("id", "<", before!))
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
}
