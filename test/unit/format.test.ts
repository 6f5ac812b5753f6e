// The page helpers: every page writes a moment, a day, a count and a plural the same way.
import { describe, expect, it } from "vitest";
import { count, day, moment, plural, prettyJson, serviceLinks } from "../../src/web/format.js";

describe("page formats", () => {
  it("writes moments to the minute in UTC, and days as ISO dates", () => {
    expect(moment("2026-12-05T14:03:59.123Z")).toBe("2026-12-05 14:03 UTC");
    expect(day("2026-12-05T14:03:59.123Z")).toBe("2026-12-05");
    expect(moment(null)).toBe("");
    expect(day(undefined)).toBe("");
  });

  it("writes counts with thousands separators, and a noun that agrees", () => {
    expect(count(1234567)).toBe("1,234,567");
    expect(plural(1, "finding")).toBe("1 finding");
    expect(plural(2500, "finding")).toBe("2,500 findings");
    expect(plural(2, "repository", "repositories")).toBe("2 repositories");
    expect(plural(0, "ticket")).toBe("0 tickets");
  });

  it("indents a raw record that is JSON, and shows one that is not as it came", () => {
    expect(prettyJson('{"a":[1,2]}')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(prettyJson("<xml/>")).toBe("<xml/>");
  });
});

describe("links into services", () => {
  it("are unchanged, except where the origin map routes a service to a simulator (demos and tests)", () => {
    const link = serviceLinks(new Map([["https://acme.atlassian.net", "http://127.0.0.1:4100"]]));
    expect(link("https://acme.atlassian.net/browse/SEC-1")).toBe("http://127.0.0.1:4100/browse/SEC-1");
    // Another host that merely starts the same is not the service.
    expect(link("https://acme.atlassian.net.evil.example/browse/SEC-1")).toBe("https://acme.atlassian.net.evil.example/browse/SEC-1");
    expect(link("https://github.com/acme/api/issues/1")).toBe("https://github.com/acme/api/issues/1");
    expect(link(null)).toBe("");
    expect(serviceLinks(new Map())("https://acme.atlassian.net/browse/SEC-1")).toBe("https://acme.atlassian.net/browse/SEC-1");
  });
});
