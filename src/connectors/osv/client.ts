// The OSV database's API (api.osv.dev, or a mirror at another address): /v1/querybatch for
// the advisories affecting many package versions at once (ids and modified times only, in the
// order asked, paged per query), and /v1/vulns/<id> for one advisory in the OSV schema.
import { ExternalError, type HttpClient } from "../../http.js";

export const SERVICE = "OSV";
export const DEFAULT_OSV_URL = "https://api.osv.dev";
/** The API's limit on queries in one batch. */
const BATCH = 1000;
/** Pages followed for one query (a package version with thousands of advisories is not real). */
const MAX_PAGES = 20;

export interface OsvQuery {
  ecosystem: string;
  name: string;
  version: string;
}

export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

/** One advisory, in the fields Patchbay reads of the OSV schema. */
export interface OsvVulnerability {
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  summary?: string;
  details?: string;
  severity?: { type: string; score: string }[];
  affected?: {
    package?: { ecosystem?: string; name?: string };
    ranges?: { type: string; events?: OsvEvent[] }[];
    versions?: string[];
    database_specific?: Record<string, unknown>;
    ecosystem_specific?: Record<string, unknown>;
  }[];
  references?: { type: string; url: string }[];
  database_specific?: Record<string, unknown>;
}

export function osvErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === "string" ? parsed.message : undefined;
  } catch {
    return body.length < 200 ? body : undefined;
  }
}

export class OsvClient {
  constructor(
    private readonly http: HttpClient,
    readonly base: string,
  ) {}

  /** For each query, in order: the advisories (id and modified) affecting that version. */
  async queryBatch(queries: OsvQuery[]): Promise<{ id: string; modified: string }[][]> {
    const out: { id: string; modified: string }[][] = queries.map(() => []);
    for (let start = 0; start < queries.length; start += BATCH) {
      // Each round asks again, with its page token, only for the queries that have more.
      let pending = queries.slice(start, start + BATCH).map((q, i) => ({ index: start + i, q, token: undefined as string | undefined }));
      for (let page = 0; pending.length && page < MAX_PAGES; page++) {
        const body = {
          queries: pending.map(({ q, token }) => ({
            package: { name: q.name, ecosystem: q.ecosystem },
            version: q.version,
            ...(token ? { page_token: token } : {}),
          })),
        };
        // A batch query reads only; sending it twice is harmless.
        const { data } = await this.http.json<{ results?: { vulns?: { id?: string; modified?: string }[]; next_page_token?: string }[] }>({
          method: "POST",
          url: `${this.base}/v1/querybatch`,
          headers: { "content-type": "application/json", accept: "application/json", "user-agent": "Patchbay" },
          body: JSON.stringify(body),
          idempotent: true,
          large: true,
          apiRoot: true,
        });
        if (!Array.isArray(data.results) || data.results.length !== pending.length) {
          throw new ExternalError(
            "remote",
            SERVICE,
            `OSV answered ${pending.length} queries with ${Array.isArray(data.results) ? data.results.length : "no"} results; the answer cannot be matched to the packages.`,
          );
        }
        const next: typeof pending = [];
        data.results.forEach((result, i) => {
          for (const v of result.vulns ?? []) if (typeof v.id === "string") out[pending[i]!.index]!.push({ id: v.id, modified: String(v.modified ?? "") });
          if (result.next_page_token) next.push({ ...pending[i]!, token: result.next_page_token });
        });
        pending = next;
      }
    }
    return out;
  }

  async vulnerability(id: string): Promise<OsvVulnerability> {
    const { data } = await this.http.json<OsvVulnerability>({
      url: `${this.base}/v1/vulns/${encodeURIComponent(id)}`,
      headers: { accept: "application/json", "user-agent": "Patchbay" },
    });
    if (typeof data?.id !== "string") throw new ExternalError("remote", SERVICE, `OSV answered advisory ${id} without an id.`);
    return data;
  }
}
