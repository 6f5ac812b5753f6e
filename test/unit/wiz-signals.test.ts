// Wiz's exposure and exploitation signals as Patchbay reads them: exposure from the asset's two
// internet-exposure flags (null flags: no signal), the KEV flag only when Wiz gives a boolean,
// the EPSS percentile as Wiz writes it (a percentage) or as a fraction, anything else ignored.
import { describe, expect, it } from "vitest";
import { signalsOf, type WizNode } from "../../src/connectors/wiz/scanner.js";

const node = (fields: Partial<WizNode>, asset: NonNullable<WizNode["vulnerableAsset"]> = { type: "CONTAINER_IMAGE" }): WizNode => ({
  id: "f1",
  name: "CVE-2024-0001",
  status: "OPEN",
  ...fields,
  vulnerableAsset: asset,
});

describe("Wiz signals", () => {
  it.each([
    [{ hasWideInternetExposure: true, hasLimitedInternetExposure: false }, "exposed"],
    [{ hasWideInternetExposure: false, hasLimitedInternetExposure: true }, "exposed"],
    [{ hasWideInternetExposure: false, hasLimitedInternetExposure: false }, "internal"],
    [{ hasWideInternetExposure: null, hasLimitedInternetExposure: null }, undefined],
    [{ hasWideInternetExposure: false }, undefined],
  ])("exposure from %o is %s", (flags, exposure) => {
    expect(signalsOf(node({}, { type: "CONTAINER_IMAGE", ...flags }))?.exposure).toBe(exposure);
  });

  it("reads the KEV flag and the EPSS percentile as Wiz writes them, and nothing from values that are not", () => {
    expect(signalsOf(node({ hasCisaKevExploit: true, epssPercentile: 97.25 }))).toEqual({ kev: true, epssPercentile: 0.9725 });
    expect(signalsOf(node({ hasCisaKevExploit: false, epssPercentile: 0.42 }))).toEqual({ kev: false, epssPercentile: 0.42 });
    expect(signalsOf(node({ hasCisaKevExploit: null, epssPercentile: 100 }))).toEqual({ epssPercentile: 1 });
    for (const bad of [-1, 100.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(signalsOf(node({ epssPercentile: bad }))).toBeUndefined();
    expect(signalsOf(node({ epssPercentile: "97" as unknown as number, hasCisaKevExploit: "yes" as unknown as boolean }))).toBeUndefined();
  });
});
