// CVSS base scores from vector strings (v3.0/v3.1 and v2), for scanners and advisories that
// give a vector but no score or severity, and the qualitative rating of a score.
import type { Severity } from "./severity.js";

function metrics(vector: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of vector.replace(/^\(|\)$/g, "").split("/")) {
    const [key, value] = part.split(":");
    if (key && value) out.set(key, value);
  }
  return out;
}

/** CVSS v3.1's Roundup: the smallest one-decimal number not below x, free of float error. */
function roundUp(x: number): number {
  const n = Math.round(x * 100_000);
  return n % 10_000 === 0 ? n / 100_000 : (Math.floor(n / 10_000) + 1) / 10;
}

function cvss3(m: Map<string, string>): number | null {
  const av = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 }[m.get("AV") ?? ""];
  const ac = { L: 0.77, H: 0.44 }[m.get("AC") ?? ""];
  const ui = { N: 0.85, R: 0.62 }[m.get("UI") ?? ""];
  const scope = m.get("S");
  const changed = scope === "C";
  const pr = { N: 0.85, L: changed ? 0.68 : 0.62, H: changed ? 0.5 : 0.27 }[m.get("PR") ?? ""];
  const cia = ["C", "I", "A"].map((k) => ({ H: 0.56, L: 0.22, N: 0 })[m.get(k) ?? ""]);
  if (av === undefined || ac === undefined || ui === undefined || pr === undefined || (scope !== "U" && scope !== "C") || cia.some((v) => v === undefined))
    return null;
  const [c, i, a] = cia as number[];
  const iss = 1 - (1 - c!) * (1 - i!) * (1 - a!);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  return roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

function cvss2(m: Map<string, string>): number | null {
  const av = { L: 0.395, A: 0.646, N: 1 }[m.get("AV") ?? ""];
  const ac = { H: 0.35, M: 0.61, L: 0.71 }[m.get("AC") ?? ""];
  const au = { M: 0.45, S: 0.56, N: 0.704 }[m.get("Au") ?? ""];
  const cia = ["C", "I", "A"].map((k) => ({ N: 0, P: 0.275, C: 0.66 })[m.get(k) ?? ""]);
  if (av === undefined || ac === undefined || au === undefined || cia.some((v) => v === undefined)) return null;
  const [c, i, a] = cia as number[];
  const impact = 10.41 * (1 - (1 - c!) * (1 - i!) * (1 - a!));
  const exploitability = 20 * av * ac * au;
  const score = (0.6 * impact + 0.4 * exploitability - 1.5) * (impact === 0 ? 0 : 1.176);
  return Math.round(score * 10) / 10;
}

// --- CVSS v4.0 --------------------------------------------------------------------------------
// v4 scores a vector from the score of its MacroVector (six equivalence classes, EQ1–EQ6, each
// 0 = most severe), minus the vector's mean distance from that MacroVector's most severe
// vectors, scaled by the score gap to the next lower MacroVector in each class (FIRST's CVSS
// v4.0 specification, section 8).

/** The MacroVector scores ×10 that FIRST's experts set, EQ1..EQ6 counting up (EQ3 = 2 only with EQ6 = 1). */
const V4_MACROVECTOR_SCORES =
  "100 99 98 95 95 92 100 96 93 87 91 81 93 90 89 80 81 68 98 95 95 92 90 84 93 92 89 81 81 65 88 80 78 70 69 48 92 82 72 79 69 50 69 55 27 99 97 95 92 92 85 95 91 90 83 84 71 92 81 82 71 72 53 95 93 92 85 85 73 92 82 80 72 70 59 84 70 71 52 50 30 86 75 52 71 52 29 63 29 17 98 95 94 87 91 81 94 89 86 74 77 64 87 75 74 63 63 49 94 89 88 77 76 67 86 76 74 58 59 50 72 57 57 52 52 25 83 70 54 65 58 26 53 21 13 95 90 88 76 76 70 90 77 75 62 61 53 77 66 68 59 52 30 89 78 76 67 62 58 74 59 57 57 47 23 61 52 57 29 24 16 71 59 30 58 26 15 23 13 6 93 87 86 72 75 58 86 74 74 61 56 34 70 54 52 40 40 22 85 75 74 55 62 51 72 57 55 41 46 19 53 36 34 19 19 8 64 51 20 47 21 11 24 9 4 88 75 73 53 60 50 73 55 59 40 41 20 54 43 45 22 20 11 75 55 58 45 40 21 61 51 48 18 20 9 46 18 17 7 8 2 53 24 14 24 12 5 10 3 1";

const V4_LOOKUP: Map<string, number> = (() => {
  const scores = V4_MACROVECTOR_SCORES.split(" ").map((n) => Number(n) / 10);
  const out = new Map<string, number>();
  let i = 0;
  for (let e1 = 0; e1 < 3; e1++)
    for (let e2 = 0; e2 < 2; e2++)
      for (let e3 = 0; e3 < 3; e3++)
        for (let e4 = 0; e4 < 3; e4++)
          for (let e5 = 0; e5 < 3; e5++) for (let e6 = 0; e6 < 2; e6++) if (!(e3 === 2 && e6 === 0)) out.set(`${e1}${e2}${e3}${e4}${e5}${e6}`, scores[i++]!);
  return out;
})();

/** Each metric's severity steps (0 = most severe), for distances within a MacroVector. */
const V4_LEVELS: Record<string, Record<string, number>> = {
  AV: { N: 0, A: 1, L: 2, P: 3 },
  PR: { N: 0, L: 1, H: 2 },
  UI: { N: 0, P: 1, A: 2 },
  AC: { L: 0, H: 1 },
  AT: { N: 0, P: 1 },
  VC: { H: 0, L: 1, N: 2 },
  VI: { H: 0, L: 1, N: 2 },
  VA: { H: 0, L: 1, N: 2 },
  SC: { H: 1, L: 2, N: 3 },
  SI: { S: 0, H: 1, L: 2, N: 3 },
  SA: { S: 0, H: 1, L: 2, N: 3 },
  CR: { H: 0, M: 1, L: 2 },
  IR: { H: 0, M: 1, L: 2 },
  AR: { H: 0, M: 1, L: 2 },
};

const v4 = (text: string) => Object.fromEntries(text.split("/").map((p) => p.split(":") as [string, string]));
/** The most severe vectors of each class level (EQ3 and EQ6 together). */
const V4_MAXES = {
  eq1: [["AV:N/PR:N/UI:N"], ["AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"], ["AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"]].map((l) => l.map(v4)),
  eq2: [["AC:L/AT:N"], ["AC:H/AT:N", "AC:L/AT:P"]].map((l) => l.map(v4)),
  eq3eq6: [
    [["VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"], ["VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"]],
    [
      ["VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"],
      [
        "VC:L/VI:H/VA:L/CR:H/IR:M/AR:H",
        "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
        "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M",
        "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
        "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
      ],
    ],
    [[], ["VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"]],
  ].map((l) => l.map((m) => m.map(v4))),
  eq4: [["SC:H/SI:S/SA:S"], ["SC:H/SI:H/SA:H"], ["SC:L/SI:L/SA:L"]].map((l) => l.map(v4)),
};
/** The depth (severity steps + 1) of each class level. */
const V4_DEPTH = {
  eq1: [1, 4, 5],
  eq2: [1, 2],
  eq3eq6: [
    [7, 6],
    [8, 8],
    [NaN, 10],
  ],
  eq4: [6, 5, 4],
};

const V4_BASE: Record<string, string[]> = {
  AV: ["N", "A", "L", "P"],
  AC: ["L", "H"],
  AT: ["N", "P"],
  PR: ["N", "L", "H"],
  UI: ["N", "P", "A"],
  VC: ["H", "L", "N"],
  VI: ["H", "L", "N"],
  VA: ["H", "L", "N"],
  SC: ["H", "L", "N"],
  SI: ["H", "L", "N"],
  SA: ["H", "L", "N"],
};

function cvss4(m: Map<string, string>): number | null {
  for (const [metric, values] of Object.entries(V4_BASE)) if (!values.includes(m.get(metric) ?? "")) return null;
  // The effective value: a modified (environmental) metric overrides; undefined E, CR, IR, AR count as worst.
  const get = (metric: string): string => {
    const modified = m.get(`M${metric}`);
    if (modified && modified !== "X") return modified;
    const value = m.get(metric) ?? "X";
    if (value !== "X") return value;
    return metric === "E" ? "A" : ["CR", "IR", "AR"].includes(metric) ? "H" : value;
  };
  if (["VC", "VI", "VA", "SC", "SI", "SA"].every((k) => get(k) === "N")) return 0;
  const [AV, PR, UI, AC, AT, VC, VI, VA, SC, SI, SA, E, CR, IR, AR] = [
    "AV",
    "PR",
    "UI",
    "AC",
    "AT",
    "VC",
    "VI",
    "VA",
    "SC",
    "SI",
    "SA",
    "E",
    "CR",
    "IR",
    "AR",
  ].map(get);
  const eq1 = AV === "N" && PR === "N" && UI === "N" ? 0 : (AV === "N" || PR === "N" || UI === "N") && AV !== "P" ? 1 : 2;
  const eq2 = AC === "L" && AT === "N" ? 0 : 1;
  const eq3 = VC === "H" && VI === "H" ? 0 : VC === "H" || VI === "H" || VA === "H" ? 1 : 2;
  const eq4 = m.get("MSI") === "S" || m.get("MSA") === "S" ? 0 : SC === "H" || SI === "H" || SA === "H" ? 1 : 2;
  const eq5 = E === "A" ? 0 : E === "P" ? 1 : 2;
  const eq6 = (CR === "H" && VC === "H") || (IR === "H" && VI === "H") || (AR === "H" && VA === "H") ? 0 : 1;
  const macro = [eq1, eq2, eq3, eq4, eq5, eq6];
  const score = (eqs: number[]) => V4_LOOKUP.get(eqs.join("")) ?? NaN;
  const value = score(macro);
  const lower = (i: number) => score(macro.map((e, j) => (j === i ? e + 1 : e)));
  // EQ3 and EQ6 step down together: 00 → 01 or 10 (the higher), 01 → 11, 10 → 11, 11 → 21.
  const lowerEq3eq6 =
    eq3 === 0 && eq6 === 0
      ? Math.max(score([eq1, eq2, 0, eq4, eq5, 1]), score([eq1, eq2, 1, eq4, eq5, 0]))
      : eq3 === 1 && eq6 === 0
        ? score([eq1, eq2, 1, eq4, eq5, 1])
        : score([eq1, eq2, eq3 + 1, eq4, eq5, eq6]);

  // The first of the MacroVector's most severe vectors that this vector does not exceed.
  const level = (metric: string, v: string | undefined) => V4_LEVELS[metric]![v ?? ""] ?? NaN;
  const actual: Record<string, string> = {
    AV: AV!,
    PR: PR!,
    UI: UI!,
    AC: AC!,
    AT: AT!,
    VC: VC!,
    VI: VI!,
    VA: VA!,
    SC: SC!,
    SI: SI!,
    SA: SA!,
    CR: CR!,
    IR: IR!,
    AR: AR!,
  };
  let distance: Record<string, number> = {};
  search: for (const a of V4_MAXES.eq1[eq1]!)
    for (const b of V4_MAXES.eq2[eq2]!)
      for (const c of V4_MAXES.eq3eq6[eq3]![eq6]!)
        for (const d of V4_MAXES.eq4[eq4]!) {
          const max = { ...a, ...b, ...c, ...d };
          distance = Object.fromEntries(Object.keys(actual).map((k) => [k, level(k, actual[k]) - level(k, max[k])]));
          if (Object.values(distance).every((x) => x >= 0)) break search;
        }
  // (The loops keep the last candidate when none fits, as the reference calculator does.)
  const steps = {
    eq1: distance.AV! + distance.PR! + distance.UI!,
    eq2: distance.AC! + distance.AT!,
    eq3eq6: distance.VC! + distance.VI! + distance.VA! + distance.CR! + distance.IR! + distance.AR!,
    eq4: distance.SC! + distance.SI! + distance.SA!,
  };
  const parts: number[] = [];
  const add = (gap: number, proportion: number) => {
    if (!Number.isNaN(gap)) parts.push(gap * proportion);
  };
  add(value - lower(0), steps.eq1 / V4_DEPTH.eq1[eq1]!);
  add(value - lower(1), steps.eq2 / V4_DEPTH.eq2[eq2]!);
  add(value - lowerEq3eq6, steps.eq3eq6 / V4_DEPTH.eq3eq6[eq3]![eq6]!);
  add(value - lower(3), steps.eq4 / V4_DEPTH.eq4[eq4]!);
  add(value - lower(4), 0);
  const mean = parts.length ? parts.reduce((x, y) => x + y, 0) / parts.length : 0;
  return Math.round(Math.min(10, Math.max(0, value - mean)) * 10) / 10;
}

/**
 * The base score of a CVSS vector ("CVSS:3.1/AV:N/…", "CVSS:4.0/…", or a v2
 * "AV:N/AC:L/Au:N/C:P/I:P/A:P"), or null for a vector it cannot read.
 */
export function cvssBaseScore(vector: string): number | null {
  const version = /^CVSS:(\d(?:\.\d)?)\//.exec(vector)?.[1];
  const m = metrics(vector.replace(/^CVSS:[\d.]+\//, ""));
  if (version === "3.0" || version === "3.1") return cvss3(m);
  if (version === "4.0") return cvss4(m);
  if (!version && m.has("Au")) return cvss2(m);
  return null;
}

/** The qualitative rating of a CVSS v3 score (v2 scores read the same way, without critical above 9). */
export function severityOfScore(score: number): Severity {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  if (score > 0) return "low";
  return "info";
}
