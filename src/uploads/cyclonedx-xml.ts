// CycloneDX XML (1.4–1.6), read as a stream with sax: components (nested ones too) and
// vulnerabilities become the same records as CycloneDX JSON's.
import sax from "sax";
import { type CdxComponent, type CdxVulnerability, CycloneDxCollector, FormatError, type ReportSummary, type Sink } from "./formats.js";

/** No field Patchbay reads is longer; a longer text node is cut, never held whole. */
const MAX_TEXT = 64 * 1024;

export class CycloneDxXmlReader {
  readonly #parser: sax.SAXParser;
  readonly #collector = new CycloneDxCollector();
  readonly #stack: string[] = [];
  #text = "";
  #components: CdxComponent[] = [];
  #vuln: CdxVulnerability | null = null;
  #rating: CdxVulnerability["ratings"][number] | null = null;
  #sawBom = false;
  #error: Error | null = null;

  constructor(private readonly sink: Sink) {
    this.#parser = sax.parser(true, { trim: false, xmlns: false });
    this.#parser.onerror = (err) => {
      this.#error ??= new FormatError(`XML ${err.message.split("\n").join(", ").replace(/,\s*$/, "")}`, "syntax");
    };
    this.#parser.onopentag = (node) => this.#open(node.name.replace(/^.*:/, ""), node.attributes as Record<string, string>);
    this.#parser.onclosetag = (name) => this.#close(name.replace(/^.*:/, ""));
    const append = (t: string) => {
      if (this.#text.length < MAX_TEXT) this.#text += t.slice(0, MAX_TEXT - this.#text.length);
    };
    this.#parser.ontext = append;
    this.#parser.oncdata = append;
  }

  #parent(n = 1): string | undefined {
    return this.#stack[this.#stack.length - 1 - n];
  }

  #open(name: string, attrs: Record<string, string>): void {
    this.#stack.push(name);
    this.#text = "";
    if (this.#stack.length === 1) {
      if (name !== "bom") this.#error ??= new FormatError(`The XML document's root is <${name}>, not a CycloneDX <bom>.`);
      this.#sawBom = true;
    }
    if (name === "component") this.#components.push({ ref: attrs["bom-ref"] ?? null, name: "", group: null, version: null, purl: null });
    if (name === "vulnerability" && this.#parent() === "vulnerabilities") {
      // The 1.0 vulnerability extension (<v:vulnerabilities> inside a component, as Grype and
      // Dependency-Track write for CycloneDX 1.2/1.3) names the affected package in a ref attribute.
      this.#vuln = {
        id: "",
        references: [],
        ratings: [],
        description: null,
        detail: null,
        affects: attrs.ref ? [attrs.ref] : [],
        url: null,
        analysis: { state: null, justification: null, detail: null },
        recommendation: null,
      };
    }
    if (name === "rating" && this.#vuln) this.#rating = {};
  }

  #close(name: string): void {
    const text = this.#text.trim();
    this.#text = "";
    this.#stack.pop();
    const parent = this.#stack.at(-1);
    const component = this.#components.at(-1);
    if (name === "component" && component) {
      this.#components.pop();
      const inMetadata = this.#stack.at(-1) === "metadata";
      const isTool = this.#stack.includes("tools");
      if (isTool) this.#collector.tool = component.name || this.#collector.tool;
      else if (inMetadata) this.#collector.subject = component;
      else if (component.name) this.#collector.component(component);
      return;
    }
    if (component && parent === "component") {
      if (name === "name") component.name = text;
      else if (name === "group") component.group = text || null;
      else if (name === "version") component.version = text || null;
      else if (name === "purl") component.purl = text || null;
      return;
    }
    if (name === "name" && parent === "tool" && this.#stack.includes("tools")) {
      this.#collector.tool = text || this.#collector.tool;
      return;
    }
    const v = this.#vuln;
    if (!v) return;
    if (name === "vulnerability" && parent === "vulnerabilities") {
      this.#collector.vulnerabilities.push(v);
      this.#vuln = null;
    } else if (name === "id" && parent === "vulnerability") v.id = text;
    else if (name === "id" && parent === "reference") v.references.push(text);
    else if (name === "url" && parent === "source" && this.#parent(0) === "source") v.url = text || null;
    else if (name === "rating" && this.#rating) {
      v.ratings.push(this.#rating);
      this.#rating = null;
    } else if (this.#rating && parent === "rating") {
      if (name === "severity") this.#rating.severity = text;
      else if (name === "score" && text) this.#rating.score = Number(text);
      else if (name === "vector") this.#rating.vector = text;
    } else if (this.#rating && name === "base" && parent === "score") this.#rating.score = Number(text);
    else if (name === "description" && parent === "vulnerability") v.description = text || null;
    else if (name === "detail" && parent === "vulnerability") v.detail = text || null;
    else if (name === "recommendation" && (parent === "vulnerability" || parent === "recommendations")) v.recommendation ??= text || null;
    else if (name === "ref" && parent === "target") v.affects.push(text);
    else if (parent === "analysis") {
      if (name === "state") v.analysis.state = text;
      else if (name === "justification") v.analysis.justification = text;
      else if (name === "detail") v.analysis.detail = text;
    }
  }

  write(chunk: string): void {
    if (this.#error) throw this.#error;
    this.#parser.write(chunk);
    if (this.#error) throw this.#error;
  }

  end(): ReportSummary {
    if (this.#error) throw this.#error;
    this.#parser.close();
    if (this.#error) throw this.#error;
    if (!this.#sawBom) throw new FormatError("The file is empty or not XML.", "syntax");
    if (this.#stack.length) throw new FormatError(`The XML document ends inside <${this.#stack.at(-1)}> (is the file truncated?).`, "syntax");
    return this.#collector.flush(this.sink);
  }
}
