import { describe, expect, it } from "vitest";
import { type JsonPath, JsonSelector, JsonStreamError } from "../../src/uploads/json-stream.js";

/** Feeds the text in chunks of `size` characters; returns what the selectors picked. */
function pick(text: string, selectors: string[][], size = 7): [string, unknown][] {
  const out: [string, unknown][] = [];
  const reader = new JsonSelector(selectors, (path: JsonPath, value) => out.push([path.join("."), value]));
  for (let i = 0; i < text.length; i += size) reader.write(text.slice(i, i + size));
  reader.end();
  return out;
}

const REPORT = JSON.stringify(
  {
    SchemaVersion: 2,
    ArtifactName: "registry.example.com/acme/api:1.0",
    Metadata: { ImageConfig: { config: { Labels: { 'a"b': "c" } } } },
    Results: [
      {
        Target: "alpine 3.18",
        Vulnerabilities: [
          { VulnerabilityID: "CVE-2023-1", Score: -1.5e2, Fixed: null, Ok: true },
          { VulnerabilityID: "CVE-2023-2", Title: 'a \\ "quoted" \u00e9 title' },
        ],
      },
      { Target: "app/package-lock.json", Vulnerabilities: [] },
      { Target: "empty" },
    ],
  },
  null,
  2,
);

describe("streaming JSON selector", () => {
  it("yields the selected values in document order, whatever the chunk size", () => {
    for (const size of [1, 3, 7, 64, 100_000]) {
      expect(pick(REPORT, [["ArtifactName"], ["Results", "*", "Target"], ["Results", "*", "Vulnerabilities", "*"]], size)).toEqual([
        ["ArtifactName", "registry.example.com/acme/api:1.0"],
        ["Results.0.Target", "alpine 3.18"],
        ["Results.0.Vulnerabilities.0", { VulnerabilityID: "CVE-2023-1", Score: -150, Fixed: null, Ok: true }],
        ["Results.0.Vulnerabilities.1", { VulnerabilityID: "CVE-2023-2", Title: 'a \\ "quoted" é title' }],
        ["Results.1.Target", "app/package-lock.json"],
        ["Results.2.Target", "empty"],
      ]);
    }
  });

  it("reads escaped keys and picks numbers at the end of an object", () => {
    expect(pick('{"a\\"b": {"n": 12}, "m": 3}', [['a"b', "n"], ["m"]], 2)).toEqual([
      ['a"b.n', 12],
      ["m", 3],
    ]);
  });

  it("names the line and column of what is wrong", () => {
    const broken = '{\n  "Results": [\n    {"Target": "x",}\n  ]\n}';
    expect(() => pick(broken, [["Results", "*"]])).toThrowError(JsonStreamError);
    expect(() => pick(broken, [["Results", "*"]])).toThrowError(/^line 3, column 20: expected a property name in double quotes, found "}"/);
    expect(() => pick('{"a": [1, 2', [["a"]])).toThrowError(/the document ends early inside an array \(is the file truncated\?\)/);
    expect(() => pick('{"a": tru}', [["a"]])).toThrowError(/"tru" is not a JSON value/);
    expect(() => pick("", [["a"]])).toThrowError(/the file is empty/);
    expect(() => pick('{"a": 1} {"b": 2}', [["a"]])).toThrowError(/unexpected text after the end of the document/);
    expect(() => pick("<?xml version='1.0'?>", [["a"]])).toThrowError(/line 1, column 1: unexpected "<" where a value was expected/);
  });
});
