// Remediation policy rules as Patchbay reads and matches them: every condition, the first match
// deciding, `*` globs in linear time on hostile input, and documents refused with where and why.
import { describe, expect, it } from "vitest";
import { firstMatch, globMatch, matches, type PolicyFacts, readRules } from "../../src/policy/rules.js";

const facts: PolicyFacts = {
  severity: "low",
  risk: 12,
  epss: 0.004,
  kev: false,
  scope: "development",
  direct: false,
  ecosystem: "npm",
  package: "@types/node",
  repository: "acme/web",
  topics: ["pci"],
  owners: ["@acme/web-team"],
  ageDays: 45,
};

describe("policy rules", () => {
  it.each([
    [{ severity: ["low", "info"] }, true],
    [{ severity: ["high"] }, false],
    [{ risk: { below: 40 } }, true],
    [{ risk: { atLeast: 12, below: 13 } }, true],
    [{ risk: { atLeast: 13 } }, false],
    [{ epss: { below: 0.01 } }, true],
    [{ kev: true }, false],
    [{ scope: ["development", "test"] }, true],
    [{ scope: ["runtime"] }, false],
    [{ dependency: "transitive" }, true],
    [{ dependency: "direct" }, false],
    [{ ecosystem: ["npm"] }, true],
    [{ package: "@types/*" }, true],
    [{ package: "lodash*" }, false],
    [{ repository: "ACME/*" }, true],
    [{ topic: "PCI" }, true],
    [{ owner: "@acme/payments" }, false],
    [{ age: { atLeast: 30 } }, true],
    [{ severity: ["low"], dependency: "direct" }, false],
  ] as const)("%o matches: %s", (when, expected) => {
    expect(matches(when as never, facts)).toBe(expected);
  });

  it("decides by the first rule that matches; unknown facts never match a condition on them", () => {
    const { rules, errors } = readRules([
      { name: "KEV first", when: { kev: true }, action: "push_to", mapping: "On-call" },
      { name: "Dev lows", when: { severity: "low", scope: "development" }, action: "accept_risk", reason: "Not shipped.", days: 90 },
      { name: "Everything else", action: "no_push" },
    ]);
    expect(errors).toEqual([]);
    expect(firstMatch(rules, facts)?.name).toBe("Dev lows");
    expect(firstMatch(rules, { ...facts, kev: true })?.name).toBe("KEV first");
    expect(firstMatch(rules, { ...facts, scope: null })?.name).toBe("Everything else");
    expect(matches({ epss: { below: 0.5 } }, { ...facts, epss: null })).toBe(false);
  });

  it("globs with * only, case-insensitively, and settles hostile patterns", () => {
    expect(globMatch("lodash*", "lodash.merge")).toBe(true);
    expect(globMatch("*merge", "lodash.merge")).toBe(true);
    expect(globMatch("a*b*c", "axxbyyc")).toBe(true);
    expect(globMatch("a*b*c", "axxbyy")).toBe(false);
    expect(globMatch("lodash", "lodash.merge")).toBe(false);
    expect(globMatch("l?dash", "lodash")).toBe(false);
    // Many stars against a long run of the same letter: the two-pointer walk, no backtracking blow-up.
    expect(globMatch("*a".repeat(100) + "b", "a".repeat(300))).toBe(false);
  });

  it("refuses what it cannot read, saying which rule and why", () => {
    expect(readRules({ name: "x" }).errors).toEqual(["The rules are a list: each item starts with “- name:”."]);
    const { rules, errors } = readRules([
      { name: "", action: "no_push" },
      { name: "Days", action: "accept_risk", reason: "r", days: 400 },
      { name: "Reason", action: "false_positive" },
      { name: "Sev", action: "severity", severity: "urgent" },
      { name: "Range", when: { risk: { above: 3 } }, action: "no_push" },
      { name: "Eco", when: { severity: "severe" }, action: "no_push" },
      { name: "Extra", action: "no_push", colour: "red" },
    ]);
    expect(rules).toEqual([]);
    expect(errors).toEqual([
      "Rule 1: needs a name of at most 200 characters.",
      "Rule 2: (Days) accept_risk needs days: a whole number from 1 to 366 (how long each acceptance lasts before it is reviewed).",
      "Rule 3: (Reason) needs a reason (at most 1,000 characters): it goes on each finding's history.",
      "Rule 4: (Sev) severity needs severity: one of critical, high, medium, low, info.",
      "Rule 5: (Range) when.risk is a range: atLeast and/or below.",
      'Rule 6: (Eco) when.severity: "severe" is not one of critical, high, medium, low, info.',
      'Rule 7: has "colour", which a rule does not take.',
    ]);
  });
});
