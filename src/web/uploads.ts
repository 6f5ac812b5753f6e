// Uploads: POST /api/v1/scans for CI (an API token with the upload scope; the report as the
// raw body or a multipart "file" part; format, asset and full in the query string), and the
// Uploads page for people (the same import, from a form, with recent uploads listed).
import { Readable } from "node:stream";
import busboy from "busboy";
import { Hono, type Context } from "hono";
import type { Integration } from "../db/schema.js";
import { FORMAT_LABELS, type FormatId } from "../uploads/formats.js";
import { MAX_UPLOAD_BYTES, type UploadInput, UploadRejected, type UploadResult, importUpload, recentUploads } from "../uploads/import.js";
import { integrationOfKind } from "../integrations/store.js";
import type { AppDeps, AppEnv } from "./context.js";
import { isHtmx, render } from "./render.js";
import { need } from "./api.js";

const FORMATS = Object.keys(FORMAT_LABELS) as FormatId[];

interface Options {
  format: FormatId | null;
  asset: string | null;
  full: boolean | null;
}

function readOptions(get: (name: string) => string | undefined): Options | string {
  const format = (get("format") ?? "").trim().toLowerCase();
  if (format && format !== "auto" && !FORMATS.includes(format as FormatId))
    return `Unknown format "${format}": use one of ${FORMATS.join(", ")} (or leave it out to detect it).`;
  const full = (get("full") ?? "").trim().toLowerCase();
  if (full && !["true", "false", "1", "0", "on", "yes", "no"].includes(full)) return `full is true or false, not "${full}".`;
  const asset = (get("asset") ?? "").trim();
  if (asset.length > 500) return "asset is at most 500 characters.";
  return {
    format: format && format !== "auto" ? (format as FormatId) : null,
    asset: asset || null,
    full: full ? ["true", "1", "on", "yes"].includes(full) : null,
  };
}

/** The report's bytes: a multipart body's "file" part (with its fields), or the raw body. */
async function reportBody(request: Request): Promise<{ fields: Record<string, string>; body: AsyncIterable<Uint8Array>; drain: () => void } | string> {
  if (!request.body) return "The request has no body: send the report as the body, or as a multipart part named file.";
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) {
    const stream = Readable.fromWeb(request.body as import("node:stream/web").ReadableStream<Uint8Array>);
    return { fields: {}, body: stream, drain: () => stream.resume() };
  }
  return new Promise((resolve) => {
    const fields: Record<string, string> = {};
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { "content-type": type }, limits: { files: 1, fields: 20, fieldSize: 4096, fileSize: MAX_UPLOAD_BYTES + 1 } });
    } catch {
      resolve("The multipart body has no boundary; let the client set the Content-Type header.");
      return;
    }
    parser.on("field", (name, value) => (fields[name] = value));
    parser.on("file", (name, stream) => {
      if (name !== "file") {
        stream.resume();
        return;
      }
      resolve({ fields, body: stream, drain: () => stream.resume() });
    });
    parser.on("close", () => resolve("The multipart body has no part named file."));
    parser.on("error", (err: Error) => resolve(`The multipart body could not be read: ${err.message}.`));
    Readable.fromWeb(request.body as import("node:stream/web").ReadableStream<Uint8Array>).pipe(parser);
  });
}

async function uploadIntegration(deps: AppDeps): Promise<Integration | undefined> {
  return integrationOfKind(deps.db, "ci-upload");
}

/** Uploads read at once, and waiting their turn, per Patchbay process; past both, a 429. */
const UPLOADS_AT_ONCE = 2;
const UPLOADS_WAITING = 4;
const UPLOAD_RETRY_AFTER_S = 30;

/** The upload slots: a finished upload hands its slot straight to the first one waiting. */
class UploadSlots {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /** Runs the task in a slot; undefined when too many are already running and waiting. */
  async run<T>(task: () => Promise<T>): Promise<T | undefined> {
    if (this.#running < UPLOADS_AT_ONCE) this.#running++;
    else if (this.#waiting.length < UPLOADS_WAITING) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else return undefined;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

type UploadOutcome = { result: UploadResult } | { status: 400 | 404 | 409 | 413 | 422 | 429 | 503; error: string };

/** Reads options and the body, and imports: the result, or the refusal with its status. */
async function runUpload(
  slots: UploadSlots,
  c: Context<AppEnv>,
  deps: AppDeps,
  by: string,
  query: (name: string) => string | undefined,
): Promise<UploadOutcome> {
  const outcome = await slots.run(() => readAndImport(c, deps, by, query));
  if (outcome) return outcome;
  // Read to the end and dropped (never parsed or kept): a client still sending its report reads
  // the 429 instead of a broken connection.
  await discard(c.req.raw.body);
  c.header("Retry-After", String(UPLOAD_RETRY_AFTER_S));
  return {
    status: 429,
    error: `Patchbay is reading ${UPLOADS_AT_ONCE} reports and has ${UPLOADS_WAITING} more waiting. Send this one again in ${UPLOAD_RETRY_AFTER_S} seconds (Retry-After).`,
  };
}

async function discard(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  let bytes = 0;
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      bytes += read.value.byteLength;
      if (bytes > MAX_UPLOAD_BYTES) return void (await reader.cancel());
    }
  } catch {
    // The client went away: nothing to answer.
  }
}

async function readAndImport(c: Context<AppEnv>, deps: AppDeps, by: string, query: (name: string) => string | undefined): Promise<UploadOutcome> {
  const integration = await uploadIntegration(deps);
  if (!integration) return { status: 409, error: "Uploads are off: connect CI uploads in the Integration Hub (Security Scanners) first." };
  const body = await reportBody(c.req.raw);
  if (typeof body === "string") return { status: 400, error: body };
  const options = readOptions((name) => query(name) ?? body.fields[name]);
  if (typeof options === "string") {
    body.drain();
    return { status: 400, error: options };
  }
  const settings = JSON.parse(integration.settings) as { fullByDefault?: boolean };
  const input: UploadInput = {
    by,
    format: options.format,
    asset: options.asset,
    full: options.full ?? settings.fullByDefault === true,
    body: body.body,
    encoding: c.req.header("content-encoding") ?? null,
  };
  try {
    return { result: await importUpload({ ...deps, env: deps.env }, integration, input) };
  } catch (err) {
    body.drain();
    if (err instanceof UploadRejected) {
      if (err.retryAfter !== undefined) c.header("Retry-After", String(err.retryAfter));
      return { status: err.status, error: err.message };
    }
    throw err;
  }
}

export function uploadRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const slots = new UploadSlots();

  // --- the API ---------------------------------------------------------------------------
  app.post("/api/v1/scans", need("upload"), async (c) => {
    const row = c.get("grant")!.token;
    const outcome = await runUpload(slots, c, deps, `token ${row.name}`, (name) => c.req.query(name));
    if ("error" in outcome) return c.json({ error: outcome.error }, outcome.status);
    deps.logger.info("scan report uploaded", {
      token: row.name,
      upload: outcome.result.upload,
      format: outcome.result.format,
      created: outcome.result.created,
    });
    return c.json(outcome.result, 201);
  });

  // --- the Uploads page ------------------------------------------------------------------
  const page = async (c: Context<AppEnv>, extra: Record<string, unknown> = {}, status: 200 | 400 | 404 | 409 | 413 | 422 | 429 | 503 = 200) => {
    const integration = await uploadIntegration(deps);
    const uploads = integration ? await recentUploads(deps.db, integration.id) : [];
    return render(
      c,
      deps,
      "./uploads/index",
      {
        connected: Boolean(integration),
        uploads: uploads.map((u) => ({ ...u, counts: JSON.parse(u.counts) as Partial<UploadResult> })),
        formats: FORMAT_LABELS,
        apiUrl: `${deps.baseUrl}/api/v1/scans`,
        ...extra,
      },
      status,
    );
  };

  app.get("/uploads", (c) => page(c));

  app.post("/uploads", async (c) => {
    const outcome = await runUpload(slots, c, deps, `user ${c.get("user")!.username}`, () => undefined);
    const data = "error" in outcome ? { failure: outcome.error } : { result: outcome.result };
    if (isHtmx(c)) return render(c, deps, "./uploads/result", data, "error" in outcome ? outcome.status : 200);
    return page(c, data, "error" in outcome ? outcome.status : 200);
  });

  return app;
}
