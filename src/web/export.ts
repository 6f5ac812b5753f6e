// A findings export as an HTTP response: the file streamed as it is written, a thousand rows at
// a time, with backpressure (a million rows in flat memory). Shared by the Vulnerabilities page
// and the API.
import { csvExport, exportBatches, jsonExport } from "../findings/export.js";
import type { FindingFilter } from "../findings/query.js";
import type { AppDeps } from "./context.js";

export function exportResponse(deps: AppDeps, filter: FindingFilter, format: "csv" | "json"): Response {
  const batches = exportBatches(deps.db, filter, deps.baseUrl);
  const chunks = format === "csv" ? csvExport(batches) : jsonExport(batches);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  const day = deps.now().toISOString().slice(0, 10);
  return new Response(body, {
    headers: {
      "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
      "content-disposition": `attachment; filename="patchbay-findings-${day}.${format}"`,
      "cache-control": "no-store",
    },
  });
}
