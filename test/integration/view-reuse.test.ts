// The Vulnerabilities results reused for a moment between writes (src/web/view-cache.ts): a
// person's own change shows at the next page; a write through another handle on the database (a
// scan thread's, another replica's) within a second; and the page sent around the kept bytes is
// whole, with its length, whatever the filter says.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.js";
import { openPostgres } from "../../src/db/postgres.js";
import { VIEW_REUSE_MS } from "../../src/web/view-cache.js";
import { type Browser, type TestApp, seedRepositories, setUpAdmin, testApp, text } from "../helpers.js";
import { DEFAULT_REPOSITORIES, wizTenant } from "../sim/wiz-data.js";
import { WIZ_FORM, type WizFixture, startWiz } from "../sim/wiz-fixture.js";

let wiz: WizFixture;
let app: TestApp;
let admin: Browser;

beforeAll(async () => {
  wiz = await startWiz();
  wiz.sim.findings.push(...wizTenant({ importable: 60 }));
});
afterAll(() => wiz.close());
beforeEach(async () => {
  app = await testApp({ env: { PATCHBAY_ORIGIN_MAP: wiz.originMap } });
  admin = await setUpAdmin(app);
  await seedRepositories(app, DEFAULT_REPOSITORIES);
  expect((await admin.post("/integrations/wiz", WIZ_FORM)).status).toBe(303);
  app.clock.advance(5_000);
  while (await app.runtime.worker.runOnce());
});
afterEach(() => app.close());

const db = () => app.runtime.database.db;
const page = async (path = "/vulnerabilities?status=all&sort=cve&dir=asc") => (await admin.get(path)).text();
/** The status shown in the row of the finding with this CVE. */
const statusIn = (html: string, cve: string) => new RegExp(`>${cve}</a>[\\s\\S]*?<td data-label="Status">([^<]*)</td>`).exec(html)?.[1];

async function firstFinding() {
  return db().selectFrom("findings").select(["id", "cve", "status"]).orderBy("cve").orderBy("id").executeTakeFirstOrThrow();
}

describe("Vulnerabilities results reused between writes", () => {
  it("shows a person's own change at the next page, though the page before was reused", async () => {
    const finding = await firstFinding();
    const before = await page();
    expect(statusIn(before, finding.cve)).toBe("Open");
    expect(await page()).toBe(before);
    expect((await admin.post(`/vulnerabilities/${finding.id}/status`, { status: "false_positive", reason: "Not reachable" })).status).toBe(303);
    expect(statusIn(await page(), finding.cve)).toBe("False positive");
  });

  it("shows a change written through another handle on the database within a second", async () => {
    const finding = await firstFinding();
    // Another handle, as a scan thread (SQLite) or another replica (PostgreSQL) writes.
    const other = app.config.databaseUrl
      ? await openPostgres(app.config.databaseUrl)
      : await openDatabase(app.config.databasePath, undefined, { beside: true });
    try {
      const shown = performance.now();
      expect(statusIn(await page(), finding.cve)).toBe("Open");
      await other.db.updateTable("findings").set({ status: "risk_accepted" }).where("id", "=", finding.id).execute();
      // Reused while the second lasts (unless this machine paused that long).
      const again = await page();
      if (performance.now() - shown < VIEW_REUSE_MS * 0.8) expect(statusIn(again, finding.cve)).toBe("Open");
      await new Promise((r) => setTimeout(r, VIEW_REUSE_MS + 50));
      expect(statusIn(await page(), finding.cve)).toBe("Risk accepted");
    } finally {
      await other.close();
    }
  });

  it("sends the whole page with its length, and the results alone to htmx, whatever the search says", async () => {
    const res = await admin.get("/vulnerabilities?q=%3C!--part%3Ax--%3E");
    const body = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(body.byteLength);
    const html = new TextDecoder().decode(body);
    expect(html).toContain('value="&lt;!--part:x--&gt;"');
    expect(text(html)).toContain("No finding matches these filters.");
    expect(html.trimEnd()).toMatch(/<\/html>$/);

    const full = await page();
    const partial = await (await admin.get("/vulnerabilities?status=all&sort=cve&dir=asc", { htmx: true, target: "findings-results" })).text();
    expect(partial).not.toContain("<html");
    expect(full).toContain(partial);
  });
});
