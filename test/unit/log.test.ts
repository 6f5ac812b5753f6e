import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger, registerSecret } from "../../src/log.js";

describe("logger", () => {
  it("writes JSON lines and redacts secret-looking fields and registered secret values", () => {
    const lines: string[] = [];
    const log = createLogger("info", (l) => lines.push(l)).child({ reqId: "r1" });
    registerSecret("hunter2-long-secret");
    log.info("calling with hunter2-long-secret", { password: "pw", nested: { clientSecret: "x", ok: "fine" }, note: "contains hunter2-long-secret" });
    log.debug("not shown");
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({ level: "info", reqId: "r1", password: "[redacted]", nested: { clientSecret: "[redacted]", ok: "fine" } });
    expect(lines[0]).not.toContain("hunter2-long-secret");
  });
});

describe("config", () => {
  it("has documented defaults", () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.databasePath).toMatch(/data\/patchbay\.db$/);
    expect(config.baseUrl).toBe("http://localhost:8080");
  });

  it("rejects bad values with a message naming the variable", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT must be a whole number/);
    expect(() => loadConfig({ PATCHBAY_BASE_URL: "ftp://x" })).toThrow(/PATCHBAY_BASE_URL/);
    expect(() => loadConfig({ PATCHBAY_ORIGIN_MAP: "nonsense" })).toThrow(/PATCHBAY_ORIGIN_MAP/);
    expect(loadConfig({ PATCHBAY_ORIGIN_MAP: "https://auth.app.wiz.io=http://127.0.0.1:9/" }).originMap.get("https://auth.app.wiz.io")).toBe(
      "http://127.0.0.1:9",
    );
  });
});
