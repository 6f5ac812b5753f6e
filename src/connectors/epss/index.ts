// FIRST's EPSS scores: the daily CSV (gzip as published, or plain from a mirror or an upload) —
// "#model_version:v2025.03.14,score_date:2025-03-17T00:00:00+0000", the header
// "cve,epss,percentile", then a row per CVE — read whole, in linear time, or not at all.
import zlib from "node:zlib";
import { ExternalError } from "../../http.js";
import { type ExploitationFeed, FeedFormatError } from "../types.js";

export interface EpssRow {
  cve: string;
  score: number;
  percentile: number;
}

const MAX_BYTES = 64 * 1024 * 1024;
const MAX_UNZIPPED = 256 * 1024 * 1024;
const CVE = /^CVE-\d{4}-\d{4,7}$/;

function probability(text: string): number | undefined {
  if (!/^(0(\.\d{1,12})?|1(\.0{1,12})?|\d(\.\d{1,12})?e-\d{1,3})$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 0 && n <= 1 ? n : undefined;
}

export const epssFeed: ExploitationFeed<EpssRow> = {
  id: "epss",
  name: "FIRST EPSS",
  defaultUrl: "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz",
  about: "Each CVE's probability of being exploited in the next 30 days, and its percentile, from FIRST's Exploit Prediction Scoring System (daily).",
  async fetch(url, ctx) {
    const res = await ctx
      .http("FIRST EPSS")
      .request({ url, headers: { accept: "*/*", "user-agent": "Patchbay" }, binary: true, large: true, maxBytes: MAX_BYTES });
    if (!res.bytes) throw new ExternalError("remote", "FIRST EPSS", "The EPSS feed answered without a body.");
    return res.bytes;
  },
  parse(bytes) {
    let data = bytes;
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        data = zlib.gunzipSync(bytes, { maxOutputLength: MAX_UNZIPPED });
      } catch (err) {
        throw new FeedFormatError(`The EPSS file is gzip that does not unpack (${err instanceof Error ? err.message : String(err)}).`);
      }
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(data);
    } catch {
      throw new FeedFormatError("The EPSS file is not UTF-8 text.");
    }
    const rows: EpssRow[] = [];
    let modelVersion: string | null = null;
    let date: string | null = null;
    let header = false;
    let line = 0;
    for (let at = 0; at < text.length;) {
      const end = text.indexOf("\n", at);
      const raw = text.slice(at, end < 0 ? text.length : end).replace(/\r$/, "");
      at = end < 0 ? text.length : end + 1;
      line++;
      if (!raw) continue;
      if (raw.startsWith("#")) {
        for (const part of raw.slice(1).split(",")) {
          const colon = part.indexOf(":");
          const key = part.slice(0, colon).trim();
          const value = part.slice(colon + 1).trim();
          if (key === "model_version") modelVersion = value.slice(0, 40);
          if (key === "score_date") date = value.slice(0, 40);
        }
        continue;
      }
      if (!header) {
        if (raw.trim().toLowerCase() !== "cve,epss,percentile")
          throw new FeedFormatError(`Line ${line} of the EPSS file should be "cve,epss,percentile": this is not an EPSS scores file.`);
        header = true;
        continue;
      }
      const [cve = "", epss = "", percentile = "", extra] = raw.split(",");
      const score = probability(epss);
      const pct = probability(percentile);
      if (extra !== undefined || !CVE.test(cve) || score === undefined || pct === undefined)
        throw new FeedFormatError(`Line ${line} of the EPSS file is not readable ("${raw.slice(0, 80)}"): nothing was loaded.`);
      rows.push({ cve, score, percentile: pct });
    }
    if (!header) throw new FeedFormatError('The EPSS file has no "cve,epss,percentile" header: this is not an EPSS scores file.');
    return { date, modelVersion, rows };
  },
};
