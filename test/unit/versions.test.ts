// Version ordering per ecosystem, each table drawn from the ecosystem's own specification:
// every list is in increasing order (every pair is checked, not only neighbours), every group
// in `same` compares equal, and versions the ecosystem cannot read never count as a fix.
import { describe, expect, it } from "vitest";
import { compareVersions, fixes, isPrerelease, orderVersions, versionProblem, versionScheme, versionsAbove } from "../../src/vuln/versions/index.js";

interface Table {
  ecosystem: string;
  source: string;
  ascending: string[][];
  same?: string[][];
  prerelease?: string[];
  release?: string[];
  unreadable?: string[];
}

const TABLES: Table[] = [
  {
    ecosystem: "npm",
    source: "semver.org §11",
    ascending: [
      [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
        "10.0.0",
      ],
      ["4.17.9", "4.17.10", "4.17.21"],
    ],
    same: [["1.0.0", "v1.0.0", "=1.0.0", "1.0.0+build.5"]],
    prerelease: ["1.0.0-rc.1", "0.0.0-insiders.abc"],
    release: ["1.0.0"],
    unreadable: ["latest", "^1.2.3", "1.2", "next", "1.0.0.0"],
  },
  {
    ecosystem: "crates.io",
    source: "SemVer 2.0.0 as Cargo applies it",
    ascending: [["0.9.9", "0.10.0-alpha.1", "0.10.0", "1.0.0-beta.1", "1.0.0"]],
    same: [["1.0.0", "1.0.0+git.abc"]],
    unreadable: ["v1.0.0", "1.0"],
  },
  {
    ecosystem: "Go",
    source: "go.dev/ref/mod#versions, pseudo-versions",
    ascending: [
      [
        "v0.0.0-20200101000000-aaaaaaaaaaaa",
        "v0.0.0-20210101000000-bbbbbbbbbbbb",
        "v0.1.0",
        "v1.2.3",
        "v1.2.4-0.20210101000000-abcdef123456",
        "v1.2.4",
        "v1.9.0",
        "v1.10.0",
      ],
      ["0.17.0", "0.18.0"],
    ],
    same: [["v2.0.0+incompatible", "v2.0.0", "2.0.0"]],
    prerelease: ["v0.0.0-20210101000000-abcdef123456", "v1.2.4-pre"],
    release: ["v2.0.0+incompatible"],
    unreadable: ["master", "v1.2", "latest"],
  },
  {
    ecosystem: "PyPI",
    source: "PEP 440, 'Summary of permitted suffixes and relative ordering'",
    ascending: [
      [
        "1.dev0",
        "1.0.dev456",
        "1.0a1",
        "1.0a2.dev456",
        "1.0a12.dev456",
        "1.0a12",
        "1.0b1.dev456",
        "1.0b2",
        "1.0b2.post345.dev456",
        "1.0b2.post345",
        "1.0rc1.dev456",
        "1.0rc1",
        "1.0",
        "1.0+abc.5",
        "1.0+abc.7",
        "1.0+5",
        "1.0.post456.dev34",
        "1.0.post456",
        "1.0.15",
        "1.1.dev1",
      ],
      ["2.0.0rc1", "2.0.0", "2.0.0.post1", "2.1", "10.0", "1!0.1"],
    ],
    same: [
      ["1.0", "1.0.0", "1.0.0.0"],
      ["1.0rc1", "1.0c1", "1.0-rc.1", "1.0RC1"],
      ["1.0.post1", "1.0-1", "1.0.post-1"],
    ],
    prerelease: ["1.0a1", "1.0.dev0", "2.0.0rc1"],
    release: ["1.0", "1.0.post1"],
    unreadable: ["1.0-foo-bar", "latest", "==1.0"],
  },
  {
    ecosystem: "Maven",
    source: "Maven ComparableVersion (its own test tables)",
    ascending: [
      [
        "1-alpha2snapshot",
        "1-alpha2",
        "1-alpha-123",
        "1-beta-2",
        "1-beta123",
        "1-m2",
        "1-m11",
        "1-rc",
        "1-cr2",
        "1-rc123",
        "1-SNAPSHOT",
        "1",
        "1-sp",
        "1-sp2",
        "1-sp123",
        "1-abc",
        "1-def",
        "1-pom-1",
        "1-1-snapshot",
        "1-1",
        "1-2",
        "1-123",
      ],
      [
        "2.0",
        "2-1",
        "2.0.a",
        "2.0.0.a",
        "2.0.2",
        "2.0.123",
        "2.1.0",
        "2.1-a",
        "2.1b",
        "2.1-c",
        "2.1-1",
        "2.1.0.1",
        "2.2",
        "2.123",
        "11.a2",
        "11.a11",
        "11.b2",
        "11.b11",
        "11.m2",
        "11.m11",
        "11",
        "11.a",
        "11b",
        "11c",
        "11m",
      ],
      ["2.13.4", "2.13.4.1", "2.13.4.2", "2.14.0-rc1", "2.14.0"],
    ],
    same: [
      ["1", "1.0", "1.0.0", "1-0", "1-ga", "1.ga", "1-final", "1-release", "1-GA"],
      ["1-cr1", "1-rc1", "1-RC-1"],
      ["1a1", "1-alpha-1", "1-a1"],
      ["1m3", "1-milestone-3"],
    ],
    prerelease: ["1.0-SNAPSHOT", "2.14.0-rc1", "5.0.0-M3"],
    release: ["5.3.31", "1.0.Final"],
    unreadable: ["${project.version}", "[1.0,2.0)", "latest.release"],
  },
  {
    ecosystem: "RubyGems",
    source: "Gem::Version documentation",
    ascending: [
      ["1.0.a", "1.0.a.1", "1.0.a.2", "1.0.b1", "1.0.rc1", "1.0", "1.0.0.1", "1.1", "1.10"],
      ["3.2.0-rc1", "3.2.0"],
    ],
    same: [
      ["1.0", "1", "1.0.0"],
      ["1.0.b1", "1.0.b.1"],
    ],
    prerelease: ["1.0.a", "3.2.0-rc1"],
    release: ["1.0"],
    unreadable: ["~> 1.0", "1..0", "abc"],
  },
  {
    ecosystem: "NuGet",
    source: "NuGet package versioning (NuGetVersion)",
    ascending: [["1.0.0-alpha", "1.0.0-Beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0.1", "1.0.1", "1.2", "10.0.0"]],
    same: [
      ["1.0.0", "1.0", "1", "1.0.0.0", "1.0.0+meta"],
      ["1.0.0-BETA", "1.0.0-beta"],
    ],
    prerelease: ["1.0.0-alpha"],
    release: ["1.0.0.1"],
    unreadable: ["1.0.0.0.0", "[1.0,)", "abc"],
  },
  {
    ecosystem: "Debian:12",
    source: "Debian Policy §5.6.12 (and dpkg's verrevcmp)",
    ascending: [
      ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+b1", "1.0.1"],
      ["3.0.11-1~deb12u2", "3.0.11-1", "3.0.11-1+deb12u1", "3.0.11-2", "3.0.13-1", "1:0.9-1"],
      ["2.36-9", "2.36-9+deb12u4", "2.36-10"],
    ],
    same: [
      ["1.0", "0:1.0", "1.0-0"],
      ["1.0-1", "1.00-1"],
    ],
    prerelease: ["1.0~rc1"],
    release: ["1.0-1"],
    unreadable: ["abc", "x:1.0", "1.0-", ""],
  },
  {
    ecosystem: "Ubuntu:22.04:LTS",
    source: "dpkg ordering, as Ubuntu's OSV records use it",
    ascending: [["1.1.1f-1ubuntu2", "1.1.1f-1ubuntu2.16", "1.1.1f-1ubuntu2.20"]],
  },
  {
    ecosystem: "Red Hat",
    source: "rpm's rpmvercmp test cases",
    ascending: [
      ["1.0~rc1", "1.0", "1.0^", "1.0^git1", "1.0.1"],
      ["xyz.4", "8"],
      ["2a", "2.0"],
      ["5.5p1", "5.5p2", "5.5p10"],
      ["1.9", "1.0010"],
      ["3.0.7-16.el9", "3.0.7-18.el9_2", "3.0.7-24.el9", "1:3.0.7-1.el9"],
    ],
    same: [
      ["1.0", "1.0"],
      ["1.0", "0:1.0"],
      ["1.0010", "1.10"],
      ["1_0", "1.0"],
    ],
    prerelease: ["1.0~rc1"],
    unreadable: ["~1.0", "a:1.0", "1.0 beta"],
  },
  {
    ecosystem: "Alpine:v3.19",
    source: "apk-tools' version ordering",
    ascending: [
      ["1.0_alpha", "1.0_beta", "1.0_pre", "1.0_rc", "1.0", "1.0_cvs", "1.0_svn", "1.0_git", "1.0_hg", "1.0_p1", "1.0_p2", "1.0a", "1.0.1"],
      ["1.2_rc1-r0", "1.2-r0", "1.2-r1", "1.2-r10"],
      ["3.0.8-r3", "3.0.10-r0", "3.1.4-r5"],
      ["1.01", "1.1"],
    ],
    same: [["1.0", "1.0-r0"]],
    prerelease: ["1.2_rc1-r0"],
    release: ["1.2-r1", "1.0_p1"],
    unreadable: ["1.0_foo", "r1", "1.0-rx"],
  },
  {
    ecosystem: "Packagist",
    source: "Composer's version normalisation and stability order",
    ascending: [["1.0.0-dev", "1.0.0-alpha1", "1.0.0-beta2", "1.0.0-RC1", "1.0.0", "1.0.0-p1", "1.0.1", "1.0.10"]],
    same: [
      ["1.0.0", "v1.0.0", "1.0", "1.0.0.0"],
      ["1.0.0-beta2", "1.0.0-b2", "1.0.0beta2"],
    ],
    prerelease: ["1.0.0-RC1"],
    unreadable: ["dev-main", "1.0.x-dev"],
  },
  {
    ecosystem: "",
    source: "no ecosystem: dotted numbers",
    ascending: [["1.2.0-rc.1", "1.2", "1.2.1", "1.10", "v2"]],
    same: [["1.2", "1.2.0", "v1.2.0"]],
    unreadable: ["release-candidate", "~1.2"],
  },
];

describe.each(TABLES)("$ecosystem versions ($source)", (table) => {
  it("orders every list in increasing order, every pair", () => {
    for (const list of table.ascending) {
      for (let i = 0; i < list.length; i++) {
        for (let j = 0; j < list.length; j++) {
          const want = Math.sign(i - j);
          expect([list[i], list[j], compareVersions(table.ecosystem, list[i]!, list[j]!)]).toEqual([list[i], list[j], want]);
        }
      }
    }
  });

  it("treats equal spellings as equal", () => {
    for (const group of table.same ?? [])
      for (const a of group) for (const b of group) expect([a, b, compareVersions(table.ecosystem, a, b)]).toEqual([a, b, 0]);
  });

  it("knows its pre-releases", () => {
    for (const v of table.prerelease ?? []) expect([v, isPrerelease(table.ecosystem, v)]).toEqual([v, true]);
    for (const v of table.release ?? []) expect([v, isPrerelease(table.ecosystem, v)]).toEqual([v, false]);
  });

  it("never takes a version it cannot read as a fix, and says why", () => {
    const good = table.ascending[0]!.at(-1)!;
    for (const v of table.unreadable ?? []) {
      expect([v, versionProblem(table.ecosystem, v)]).toEqual([v, expect.stringContaining(versionScheme(table.ecosystem).name)]);
      expect(compareVersions(table.ecosystem, v, good)).toBeNull();
      const asFix = fixes(table.ecosystem, v, good);
      expect(asFix.fixed).toBe(false);
      expect(fixes(table.ecosystem, good, v).fixed).toBe(false);
      if (!asFix.fixed) expect(asFix.reason).toContain("cannot order");
    }
  });
});

describe("fixes and orderings built on the schemes", () => {
  it("a bump fixes a finding only at or above its fixed version, by the ecosystem's rules", () => {
    expect(fixes("PyPI", "2.0.0", "2.0.0rc1")).toEqual({ fixed: true });
    expect(fixes("PyPI", "2.0.0rc1", "2.0.0")).toEqual({ fixed: false, reason: "2.0.0rc1 is older than the fixed version 2.0.0." });
    expect(fixes("npm", "4.17.21", "4.17.21")).toEqual({ fixed: true });
    expect(fixes("Maven", "2.14.0-rc1", "2.14.0").fixed).toBe(false);
    expect(fixes("Debian", "3.0.11-1~deb12u2", "3.0.11-1").fixed).toBe(false);
    // A segment-by-segment comparison takes each of these the wrong way round.
    expect(fixes("Maven", "1.0-SNAPSHOT", "1.0").fixed).toBe(false);
    expect(fixes("Maven", "1.0.Final", "1.0").fixed).toBe(true);
    expect(fixes("PyPI", "1.0.post1", "1.0").fixed).toBe(true);
    expect(fixes("Alpine", "1.2_rc1-r0", "1.2-r0").fixed).toBe(false);
  });

  it("a version longer than 128 characters is not read", () => {
    const long = `1.${"0.".repeat(80)}1`;
    expect(versionProblem("npm", long)).toContain("longer than 128 characters");
    expect(fixes("Maven", long, "1.0").fixed).toBe(false);
  });

  it("orders a registry's versions and names the latest release", () => {
    expect(orderVersions("PyPI", ["2.0.0", "2.0.0rc1", "1.9", "2.1.0.dev1", "not-a-version"])).toEqual({
      versions: ["1.9", "2.0.0rc1", "2.0.0", "2.1.0.dev1"],
      latest: "2.0.0",
    });
    expect(orderVersions("Maven", ["5.3.9", "5.3.10", "6.0.0-M1", "5.3.10.RELEASE"])).toEqual({
      versions: ["5.3.9", "5.3.10", "5.3.10.RELEASE", "6.0.0-M1"],
      latest: "5.3.10.RELEASE",
    });
    expect(versionsAbove("Go", "v0.17.0", ["0.18.0", "0.16.0", "0.17.1"])).toEqual(["0.17.1", "0.18.0"]);
  });
});
