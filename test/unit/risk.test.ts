// The risk score, case by case: each factor's multiplier as the README gives it, KEV's floor at the
// top band, and the bands.
import { describe, expect, it } from "vitest";
import { type RiskFacts, riskScore } from "../../src/exploitation/risk.js";

const base: RiskFacts = {
  cvss: null,
  severity: "high",
  kev: false,
  epssPercentile: null,
  criticality: "normal",
  criticalityFrom: "the default",
  exposure: "unknown",
  dependency: undefined,
  imageGone: false,
};

describe("risk score", () => {
  it.each([
    ["CVSS 9.8 in KEV", { cvss: 9.8, kev: true }, 98, "critical"],
    ["a medium in KEV: raised to the top band's floor", { severity: "medium", kev: true }, 90, "critical"],
    ["CVSS 7.5 at the EPSS median", { cvss: 7.5, epssPercentile: 0.5 }, 49, "medium"],
    [
      "the same as a development dependency",
      { cvss: 7.5, epssPercentile: 0.5, dependency: { direct: true, scope: "development", path: "package-lock.json" } },
      24,
      "low",
    ],
    [
      "the same as a transitive dependency",
      { cvss: 7.5, epssPercentile: 0.5, dependency: { direct: false, scope: "production", path: "package-lock.json" } },
      41,
      "medium",
    ],
    ["CVSS 10 with no EPSS score", { cvss: 10 }, 60, "medium"],
    [
      "CVSS 10, EPSS top percentile, critical asset, exposed: capped at 100",
      { cvss: 10, epssPercentile: 1, criticality: "high", exposure: "exposed" },
      100,
      "critical",
    ],
    ["a critical in an image its registry no longer lists", { severity: "critical", epssPercentile: 1, imageGone: true }, 29, "low"],
    ["an info finding", { severity: "info" }, 3, "low"],
    ["high, EPSS percentile 0.9, internal", { epssPercentile: 0.9, exposure: "internal" }, 60, "medium"],
  ] as [string, Partial<RiskFacts>, number, string][])("%s", (_name, facts, score, band) => {
    const risk = riskScore({ ...base, ...facts });
    expect(risk.score).toBe(score);
    expect(risk.band).toBe(band);
  });

  it("explains each factor, and KEV's floor where it applies", () => {
    const risk = riskScore({ ...base, severity: "medium", kev: true, dependency: { direct: false, scope: null, path: "go.mod" } });
    expect(risk.factors.map((f) => [f.factor, f.known, f.multiplier])).toEqual([
      ["Severity", "medium (no CVSS score)", 0.5],
      ["Likelihood", "in CISA's Known Exploited Vulnerabilities", 1],
      ["Asset criticality", "normal (the default)", 1],
      ["Exposure", "unknown: the scanner gives no exposure signal", 1],
      ["Reachability", "a transitive dependency (go.mod)", 0.85],
    ]);
    expect(risk.note).toBe("In KEV: raised from 43 to the top band's floor, 90.");
  });
});
