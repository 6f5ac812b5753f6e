import { describe, expect, it } from "vitest";
import { cvssBaseScore, severityOfScore } from "../../src/vuln/cvss.js";

describe("CVSS base scores", () => {
  it("scores v3.1 and v3.0 vectors as NVD publishes them", () => {
    // Log4Shell (CVE-2021-44228): 10.0, scope changed.
    expect(cvssBaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H")).toBe(10);
    // CVE-2020-8203 (lodash prototype pollution): 7.4.
    expect(cvssBaseScore("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H")).toBe(7.4);
    // CVE-2021-3749 (axios ReDoS): 7.5.
    expect(cvssBaseScore("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")).toBe(7.5);
    // A reflected XSS: 6.1.
    expect(cvssBaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N")).toBe(6.1);
    // No impact at all: 0.
    expect(cvssBaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N")).toBe(0);
  });

  it("scores v2 vectors", () => {
    expect(cvssBaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:P")).toBe(7.5);
    expect(cvssBaseScore("AV:N/AC:M/Au:N/C:N/I:P/A:N")).toBe(4.3);
    expect(cvssBaseScore("(AV:L/AC:L/Au:N/C:C/I:C/A:C)")).toBe(7.2);
  });

  it("scores v4.0 vectors from their MacroVector, as FIRST's calculator does", () => {
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H")).toBe(10);
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")).toBe(9.3);
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N")).toBe(8.7);
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N")).toBe(6.9);
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N")).toBe(0);
    expect(cvssBaseScore("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")).toBe(8.5);
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")).toBe(9.2);
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")).toBe(8.7);
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N")).toBe(5.3);
    // Threat and environmental metrics take part: an unreported exploit lowers the score.
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U")).toBeLessThan(9.3);
  });

  it("does not invent a score for vectors it cannot read", () => {
    expect(cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H")).toBeNull();
    expect(cvssBaseScore("CVSS:3.1/AV:X/AC:L")).toBeNull();
    expect(cvssBaseScore("")).toBeNull();
  });

  it("rates scores", () => {
    expect([9.8, 7.0, 6.9, 0.1, 0].map(severityOfScore)).toEqual(["critical", "high", "medium", "low", "info"]);
  });
});
