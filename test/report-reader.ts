// Reading a report fixture the way an upload reads it: by format, streamed in small chunks.
import { readFileSync } from "node:fs";
import { CycloneDxXmlReader } from "../src/uploads/cyclonedx-xml.js";
import { type SbomPackage, type UploadItem, detectFormat, formatReader } from "../src/uploads/formats.js";
import { JsonSelector } from "../src/uploads/json-stream.js";

export const fixture = (name: string) => readFileSync(new URL(`./fixtures/reports/${name}`, import.meta.url), "utf8");

export function read(name: string, chunk = 977) {
  const text = fixture(name);
  const format = detectFormat(text.slice(0, 8192))!;
  const items: UploadItem[] = [];
  const sbom: SbomPackage[] = [];
  const skipped: string[] = [];
  const sink = { item: (i: UploadItem) => items.push(i), sbom: (p: SbomPackage) => sbom.push(p), skip: (r: string) => skipped.push(r) };
  let summary;
  if (format === "cyclonedx-xml") {
    const reader = new CycloneDxXmlReader(sink);
    for (let i = 0; i < text.length; i += chunk) reader.write(text.slice(i, i + chunk));
    summary = reader.end();
  } else {
    const reader = formatReader(format, sink);
    const json = new JsonSelector(reader.selectors, (p, v) => reader.onValue(p, v));
    for (let i = 0; i < text.length; i += chunk) json.write(text.slice(i, i + chunk));
    json.end();
    summary = reader.finish();
  }
  return { format, items, sbom, skipped, summary };
}
