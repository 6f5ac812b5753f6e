// A package's identity within its ecosystem: two spellings the ecosystem treats as one
// package give the same key, so two scanners' reports of it make one finding.
//   PyPI       PEP 503: lower case, each run of "-", "_" and "." becomes "-" (zope.interface = zope-interface)
//   crates.io  "-" and "_" are the same in a crate name (serde_json = serde-json)
//   npm        scopes written as a purl writes them ("%40types/node") become "@types/node"
//   Maven      "group/artifact" (a purl's path) becomes "group:artifact"
//   Go         module paths: a trailing "/" is dropped
// Every name is compared in lower case.
import { ecosystemFamily } from "./ecosystems.js";

function collapse(name: string, separators: string, into: string): string {
  let out = "";
  let run = false;
  for (const c of name) {
    if (separators.includes(c)) {
      if (!run) out += into;
      run = true;
    } else {
      out += c;
      run = false;
    }
  }
  return out;
}

/** The key Patchbay stores and compares a package name by (findings' package_lc, group keys). */
export function packageKey(ecosystem: string | null | undefined, name: string): string {
  const lower = name.trim().toLowerCase();
  switch (ecosystemFamily(ecosystem)) {
    case "pypi":
      return collapse(lower, "-_.", "-");
    case "cargo":
      return lower.split("_").join("-");
    case "npm":
      return lower.startsWith("%40") ? `@${lower.slice(3)}` : lower;
    case "maven":
      return !lower.includes(":") && lower.split("/").length === 2 ? lower.replace("/", ":") : lower;
    case "go":
      return lower.endsWith("/") ? lower.slice(0, -1) : lower;
    default:
      return lower;
  }
}

/** Every key a name may have, whatever its ecosystem: for a pull request title, which names none. */
export function packageKeys(name: string): string[] {
  return [...new Set([null, "PyPI", "crates.io", "npm", "Maven", "Go"].map((e) => packageKey(e, name)))];
}
