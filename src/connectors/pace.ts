// The settings that change how fast Patchbay writes with a connection, and the limits they
// give: a connector that declares `pacing` offers them, its documented ceilings as defaults.
import type { PaceLimits, Pacing, SettingField, SettingValues } from "./types.js";

const MAX_RATE = 100_000;

function wholeNumber(value: string): string | undefined {
  const n = Number(value.trim());
  return Number.isInteger(n) && n >= 1 && n <= MAX_RATE
    ? undefined
    : `Enter a whole number from 1 to ${MAX_RATE.toLocaleString("en")}, or leave it empty for the documented limit.`;
}

/** "Writes a minute" and "Writes an hour", with the service's ceilings as the shown defaults. */
export function paceFields(pacing: Pacing): SettingField[] {
  const { perMinute, perHour } = pacing.defaults;
  return [
    {
      name: "writesPerMinute",
      label: "Writes a minute",
      type: "text",
      example: perMinute ? String(perMinute) : undefined,
      help: `Creates and edits Patchbay sends with these credentials in any minute, at most${perMinute ? ` (${pacing.basis}: ${perMinute})` : ""}. Lower it when other tools write with the same account.`,
      validate: wholeNumber,
      editableWhenConnected: true,
    },
    {
      name: "writesPerHour",
      label: "Writes an hour",
      type: "text",
      example: perHour ? String(perHour) : undefined,
      help: `Creates and edits in any hour, at most${perHour ? ` (${pacing.basis}: ${perHour})` : ""}.`,
      validate: wholeNumber,
      editableWhenConnected: true,
    },
  ];
}

function setting(values: SettingValues | undefined, name: string): number | undefined {
  const raw = values?.[name];
  if (typeof raw !== "string" || !raw.trim()) return undefined;
  return wholeNumber(raw) ? undefined : Number(raw.trim());
}

/** The limits a connection writes under: its own settings, then the reused connection's, then the service's. */
export function paceLimits(pacing: Pacing, own: SettingValues, reused?: SettingValues): PaceLimits {
  return {
    perMinute: setting(own, "writesPerMinute") ?? setting(reused, "writesPerMinute") ?? pacing.defaults.perMinute,
    perHour: setting(own, "writesPerHour") ?? setting(reused, "writesPerHour") ?? pacing.defaults.perHour,
    concurrent: pacing.defaults.concurrent,
  };
}
