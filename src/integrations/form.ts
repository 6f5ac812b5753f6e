// Parsing a connector's settings form: the one place submitted values are checked against
// the fields a connector declares. Secrets are write-only: an empty secret field on an
// existing integration keeps the stored value — unless the form changes where secrets are
// sent (a URL, a mail host), which needs them entered again: a stored secret never goes to a
// destination other than the one it was entered for.
import type { Connector, SecretValues, SettingField, SettingValues } from "../connectors/types.js";
import { isEmailAddress } from "../text.js";

export const DEFAULT_MAX_LENGTH = 500;

export type FormInput = Record<string, string | undefined>;

export type ParsedForm = { ok: true; settings: SettingValues; secrets: SecretValues } | { ok: false; errors: Record<string, string>; values: SettingValues };

export interface Existing {
  settings: SettingValues;
  secrets: SecretValues;
}

export function parseSettingsForm(connector: Connector, input: FormInput, existing?: Existing): ParsedForm {
  const settings: SettingValues = {};
  const secrets: SecretValues = {};
  const errors: Record<string, string> = {};
  const moved = existing ? changedDestination(connector, input, existing) : undefined;

  for (const field of connector.fields) {
    if (existing && !field.editableWhenConnected) {
      // Fixed once connected: the stored value stands whatever was posted.
      if (field.type === "secret") {
        if (existing.secrets[field.name] !== undefined) secrets[field.name] = existing.secrets[field.name]!;
      } else if (existing.settings[field.name] !== undefined) {
        settings[field.name] = existing.settings[field.name]!;
      }
      continue;
    }
    if (field.type === "checkbox") {
      settings[field.name] = input[field.name] !== undefined && input[field.name] !== "" && input[field.name] !== "false";
      continue;
    }
    const raw = input[field.name] ?? "";
    const value = field.type === "secret" ? raw : raw.trim();
    const error = checkValue(field, value);
    if (field.type === "secret") {
      if (value === "" && existing?.secrets[field.name]) {
        if (moved) errors[field.name] = `You changed ${moved.label}: enter the ${field.label} again. A stored secret is only sent where it was entered for.`;
        else secrets[field.name] = existing.secrets[field.name]!;
        continue;
      }
      if (error) errors[field.name] = error;
      else if (value !== "") secrets[field.name] = value;
      continue;
    }
    if (error) errors[field.name] = error;
    settings[field.name] = value;
  }

  if (Object.keys(errors).length > 0) return { ok: false, errors, values: settings };
  return { ok: true, settings, secrets };
}

/** The first editable field saying where secrets go whose submitted value differs from the stored one. */
function changedDestination(connector: Connector, input: FormInput, existing: Existing): SettingField | undefined {
  return connector.fields.find((field) => {
    if (!field.editableWhenConnected || !(field.type === "url" || field.destination)) return false;
    const stored = existing.settings[field.name];
    return (input[field.name] ?? "").trim() !== (typeof stored === "string" ? stored : "");
  });
}

function checkValue(field: SettingField, value: string): string | undefined {
  if (value === "") return field.required ? `Enter the ${field.label}.` : undefined;
  if (field.type === "integration") return /^\d{1,9}$/.test(value) ? undefined : `Choose one of the connected integrations for ${field.label}.`;
  if (field.type === "integrations") return /^\d{1,9}(,\d{1,9})*$/.test(value) ? undefined : `Choose integrations from the list for ${field.label}.`;
  if (field.type === "select") return field.options?.some((o) => o.value === value) ? undefined : `Choose one of the options for ${field.label}.`;
  const max = field.maxLength ?? DEFAULT_MAX_LENGTH;
  if (value.length > max) return `${field.label} is too long: at most ${max} characters.`;
  if (field.type === "url") {
    try {
      const url = new URL(value);
      if (url.protocol !== "https:" && url.protocol !== "http:") return `${field.label} must start with https://.`;
    } catch {
      return `${field.label} must be a full URL starting with https://.`;
    }
  }
  if (field.type === "email" && !isEmailAddress(value)) {
    return `${field.label} must be an e-mail address such as name@example.com.`;
  }
  return field.validate?.(value);
}

/** The value a form field shows: stored or submitted settings, a checkbox default, never a secret. */
export function displayValue(field: SettingField, values: SettingValues | undefined): string | boolean {
  if (field.type === "secret") return "";
  const value = values?.[field.name];
  if (field.type === "checkbox") return typeof value === "boolean" ? value : (field.defaultChecked ?? false);
  if (field.type === "select" && typeof value !== "string") return field.options?.[0]?.value ?? "";
  return typeof value === "string" ? value : "";
}
