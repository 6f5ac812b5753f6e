// The exploitation feeds' files read strictly: EPSS's CSV as FIRST writes it (its comment line,
// gzip or plain, scientific notation), KEV's JSON; anything else refused whole, with the line.
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { epssFeed } from "../../src/connectors/epss/index.js";
import { kevFeed } from "../../src/connectors/kev/index.js";
import { FeedFormatError } from "../../src/connectors/types.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("EPSS scores file", () => {
  const CSV =
    "#model_version:v2025.03.14,score_date:2026-12-05T12:55:00+0000\r\ncve,epss,percentile\r\nCVE-1999-0001,0.01141,0.77744\r\nCVE-2026-12345,4e-05,0.0031\r\nCVE-2021-44228,1.0,1.0\r\n";

  it("reads the model version, the score date and every row, gzipped or plain, CRLF or LF", () => {
    for (const input of [bytes(CSV), zlib.gzipSync(CSV), bytes(CSV.replace(/\r/g, ""))]) {
      const data = epssFeed.parse(input);
      expect(data.modelVersion).toBe("v2025.03.14");
      expect(data.date).toBe("2026-12-05T12:55:00+0000");
      expect(data.rows).toEqual([
        { cve: "CVE-1999-0001", score: 0.01141, percentile: 0.77744 },
        { cve: "CVE-2026-12345", score: 0.00004, percentile: 0.0031 },
        { cve: "CVE-2021-44228", score: 1, percentile: 1 },
      ]);
    }
  });

  it("refuses a file it cannot read whole, saying which line", () => {
    const refuse = (text: string | Uint8Array) => {
      try {
        epssFeed.parse(typeof text === "string" ? bytes(text) : text);
      } catch (err) {
        expect(err).toBeInstanceOf(FeedFormatError);
        return (err as Error).message;
      }
      return "read";
    };
    expect(refuse("<html>Service Unavailable</html>\n")).toContain('should be "cve,epss,percentile"');
    expect(refuse("cve,epss,percentile\nCVE-2021-44228,1.5,0.9\n")).toContain("Line 2");
    expect(refuse("cve,epss,percentile\nCVE-2021-44228,0.5,0.9,extra\n")).toContain("Line 2");
    expect(refuse("cve,epss,percentile\nGHSA-xxxx,0.5,0.9\n")).toContain("Line 2");
    expect(refuse("#model_version:v1\n")).toContain('no "cve,epss,percentile" header');
    expect(refuse(new Uint8Array([0x1f, 0x8b, 1, 2, 3]))).toContain("gzip that does not unpack");
  });
});

describe("KEV catalogue", () => {
  it("reads the catalogue's entries and refuses one it cannot read", () => {
    const doc = {
      catalogVersion: "2026.12.05",
      dateReleased: "2026-12-05T16:00:01.0000Z",
      vulnerabilities: [
        {
          cveID: "CVE-2021-44228",
          dateAdded: "2021-12-10",
          dueDate: "2021-12-24",
          knownRansomwareCampaignUse: "Known",
          vulnerabilityName: "Log4Shell",
          notes: "",
        },
      ],
    };
    const data = kevFeed.parse(bytes(JSON.stringify(doc)));
    expect(data.rows).toEqual([{ cve: "CVE-2021-44228", dateAdded: "2021-12-10", dueDate: "2021-12-24", ransomware: "Known", name: "Log4Shell", notes: "" }]);
    expect(data.modelVersion).toBe("2026.12.05");
    const broken = { ...doc, vulnerabilities: [...doc.vulnerabilities, { cveID: "CVE-2021-45046", dateAdded: "12/14/2021" }] };
    expect(() => kevFeed.parse(bytes(JSON.stringify(broken)))).toThrow("Entry 2 of the KEV catalogue is not readable");
    expect(() => kevFeed.parse(bytes('{"title": "something else"}'))).toThrow('no "vulnerabilities" list');
  });
});
