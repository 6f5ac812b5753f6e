// PyPI: PEP 440 ordering (epochs, pre-, post- and development releases, local versions):
// 1.0.dev0 < 1.0a1 < 1.0b2 < 1.0rc1 < 1.0 < 1.0+local < 1.0.post1 < 1!0.1.
// @renovatebot/pep440 is the maintained port of packaging's own implementation.
import { compare, explain } from "@renovatebot/pep440";
import type { VersionScheme } from "./scheme.js";

export const pep440Scheme: VersionScheme = {
  name: "PEP 440 (PyPI)",
  problem: (v) => (explain(v) ? null : "not a PEP 440 version (N[.N]…[{a|b|rc}N][.postN][.devN][+local])"),
  compare: (a, b) => compare(a, b),
  prerelease: (v) => explain(v)?.is_prerelease ?? false,
};
