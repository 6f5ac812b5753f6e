// What the Hub says about one connector never contradicts the catalogue: a card that claims a
// product is supported "only" in one edition must not sit beside a card for another edition.
import { describe, expect, it } from "vitest";
import { defaultCatalogue } from "../../src/connectors/catalogue.js";

describe("the catalogue's own words", () => {
  it("never says a service is supported in one edition only while another card connects another edition", () => {
    const catalogue = defaultCatalogue();
    const names = catalogue.all().map((c) => c.card.name);
    const contradictions: string[] = [];
    for (const connector of catalogue.all()) {
      const text = [connector.card.summary, connector.card.overview?.description ?? "", ...(connector.card.overview?.requirements ?? [])].join(" ");
      // "supports Jira Cloud only" while a "Jira Data Center" card exists.
      for (const m of text.matchAll(/supports ([\w ]+?) only/gi)) {
        const product = m[1]!.split(" ")[0]!;
        const others = names.filter((n) => n.startsWith(product) && !m[1]!.startsWith(n) && n !== connector.card.name);
        if (others.length) contradictions.push(`${connector.card.name}: "${m[0]}" but the Hub also has ${others.join(", ")}`);
      }
    }
    expect(contradictions).toEqual([]);
    const jira = catalogue.get("jira")!;
    expect(jira.card.overview?.requirements.join(" ")).toContain("use the Jira Data Center card");
  });
});
