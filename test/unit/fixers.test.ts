// The fixers that write a fix pull request's change: only the characters of the version move,
// everything else in the file (formatting, comments, other dependencies) stays as it was, and
// what cannot be changed correctly without a person is refused with the reason.
import { describe, expect, it } from "vitest";
import { raiseMaven } from "../../src/remediation/fixers/maven.js";
import { parseManifest } from "../../src/vuln/manifests.js";

const POM = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Payments API: keep versions in properties where a family shares one. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
    <modelVersion>4.0.0</modelVersion>
    <groupId>com.acme</groupId>
    <artifactId>payments-api</artifactId>
    <version>1.4.0</version>

    <properties>
        <jackson.version>2.13.0</jackson.version> <!-- databind and core move together -->
        <java.version>17</java.version>
    </properties>

    <dependencies>
        <dependency>
            <groupId>org.apache.logging.log4j</groupId>
            <artifactId>log4j-core</artifactId>
            <version>2.14.1</version>
        </dependency>
        <dependency>
            <groupId>com.fasterxml.jackson.core</groupId>
            <artifactId>jackson-databind</artifactId>
            <version>\${jackson.version}</version>
        </dependency>
        <dependency>
            <groupId>com.fasterxml.jackson.core</groupId>
            <artifactId>jackson-core</artifactId>
            <version>\${jackson.version}</version>
        </dependency>
        <dependency>
            <groupId>org.springframework</groupId>
            <artifactId>spring-web</artifactId>
            <version>[5.3,6.0)</version>
        </dependency>
        <dependency>
            <groupId>org.slf4j</groupId>
            <artifactId>slf4j-api</artifactId>
            <version>\${slf4j.version}</version>
        </dependency>
    </dependencies>
</project>
`;

/** The lines that differ, as "-old" and "+new". */
function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const out: string[] = [];
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  for (const line of a.slice(i, a.length - j)) out.push(`-${line}`);
  for (const line of b.slice(i, b.length - j)) out.push(`+${line}`);
  return out;
}

describe("Maven pom.xml", () => {
  it("raises a literal version on the dependency, and nothing else", () => {
    const fix = raiseMaven("pom.xml", POM, "org.apache.logging.log4j:log4j-core", "2.17.1");
    expect(fix.ok).toBe(true);
    if (!fix.ok) return;
    expect(changedLines(POM, fix.changes[0]!.after)).toEqual(["-            <version>2.14.1</version>", "+            <version>2.17.1</version>"]);
    expect(parseManifest("pom.xml", fix.changes[0]!.after).find((d) => d.name === "org.apache.logging.log4j:log4j-core")?.version).toBe("2.17.1");
  });

  it("raises the property a version names, its comment kept, and says which other dependencies share it", () => {
    const fix = raiseMaven("pom.xml", POM, "com.fasterxml.jackson.core:jackson-databind", "2.13.4.2");
    expect(fix.ok).toBe(true);
    if (!fix.ok) return;
    expect(changedLines(POM, fix.changes[0]!.after)).toEqual([
      "-        <jackson.version>2.13.0</jackson.version> <!-- databind and core move together -->",
      "+        <jackson.version>2.13.4.2</jackson.version> <!-- databind and core move together -->",
    ]);
    expect(fix.how).toContain("the property jackson.version (used 2 times in pom.xml)");
  });

  it("pins a transitive dependency with a new dependencyManagement entry, indented as the file is", () => {
    const fix = raiseMaven("pom.xml", POM, "org.yaml:snakeyaml", "2.0");
    expect(fix.ok).toBe(true);
    if (!fix.ok) return;
    expect(changedLines(POM, fix.changes[0]!.after)).toEqual([
      "+    <dependencyManagement>",
      "+        <dependencies>",
      "+            <dependency>",
      "+                <groupId>org.yaml</groupId>",
      "+                <artifactId>snakeyaml</artifactId>",
      "+                <version>2.0</version>",
      "+            </dependency>",
      "+        </dependencies>",
      "+    </dependencyManagement>",
    ]);
    // Still a POM whose declared dependencies read as before.
    expect(parseManifest("pom.xml", fix.changes[0]!.after).map((d) => d.name)).toEqual(parseManifest("pom.xml", POM).map((d) => d.name));
    // Pinned again later: the entry is raised, not added twice.
    const again = raiseMaven("pom.xml", fix.changes[0]!.after, "org.yaml:snakeyaml", "2.2");
    expect(again.ok && changedLines(fix.changes[0]!.after, again.changes[0]!.after)).toEqual([
      "-                <version>2.0</version>",
      "+                <version>2.2</version>",
    ]);
  });

  it("refuses what it cannot change correctly, saying why", () => {
    const reason = (name: string, to: string, text = POM) => {
      const fix = raiseMaven("pom.xml", text, name, to);
      return fix.ok ? "changed" : fix.reason;
    };
    expect(reason("org.springframework:spring-web", "5.3.33")).toContain("gives a version range ([5.3,6.0)); ranges are left to people");
    expect(reason("org.slf4j:slf4j-api", "2.0.9")).toContain("takes its version from ${slf4j.version}, which this file does not define");
    expect(reason("org.apache.logging.log4j:log4j-core", "2.17.1</version><evil>")).toContain("is not a plain Maven version");
    expect(reason("org.apache.logging.log4j:log4j-core", "2.14.1")).toContain("already at 2.14.1");
    expect(reason("log4j-core", "2.17.1")).toContain("is not a Maven group:artifact");
    expect(reason("a:b", "1.0", "<project><dependencies>")).toContain("is not well-formed XML");
    expect(reason("a:b", "1.0", "<pom/>")).toContain("has no <project> element");
    const managedByParent = POM.replace("<version>2.14.1</version>", "");
    expect(reason("org.apache.logging.log4j:log4j-core", "2.17.1", managedByParent)).toContain("takes its version from a parent POM or an imported BOM");
  });

  it("reads a hostile file in linear time and refuses absurd nesting", () => {
    const deep = `<project>${"<a>".repeat(5000)}${"</a>".repeat(5000)}</project>`;
    const fix = raiseMaven("pom.xml", deep, "a:b", "1.0");
    expect(fix.ok ? "changed" : fix.reason).toContain("nested deeper than 64 levels");
  });
});
