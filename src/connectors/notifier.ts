// What every notifier connector shares: the rule fields its settings form carries (which
// events reach it: kinds, a minimum severity for new findings, a list of integrations — the
// notifications engine matches events against them) and the message its Test Connection sends.
import type { Notification, SettingField } from "./types.js";

export const RULE_FIELDS: SettingField[] = [
  {
    name: "notifyIntegrationFailed",
    label:
      "An integration's connection failed, or its daily health check found a problem ahead (a token about to expire, a missing scope, a mapped status gone)",
    type: "checkbox",
    defaultChecked: true,
    editableWhenConnected: true,
  },
  { name: "notifyScanFailed", label: "A scan or repository sync failed", type: "checkbox", defaultChecked: true, editableWhenConnected: true },
  { name: "notifyPushFailed", label: "Pushing a ticket failed", type: "checkbox", defaultChecked: true, editableWhenConnected: true },
  { name: "notifyNewFindings", label: "New findings after a scan (one digest per scan)", type: "checkbox", defaultChecked: false, editableWhenConnected: true },
  {
    name: "minSeverity",
    label: "Minimum severity of new findings",
    type: "select",
    editableWhenConnected: true,
    options: [
      { value: "high", label: "High and critical" },
      { value: "critical", label: "Critical only" },
      { value: "medium", label: "Medium and above" },
      { value: "low", label: "Low and above" },
      { value: "info", label: "All" },
    ],
  },
  { name: "notifyRemediationMerged", label: "A remediation pull request was merged", type: "checkbox", defaultChecked: false, editableWhenConnected: true },
  {
    name: "notifyKevEntered",
    label: "Findings entered CISA's Known Exploited Vulnerabilities",
    type: "checkbox",
    defaultChecked: true,
    editableWhenConnected: true,
  },
  {
    name: "notifySlaApproaching",
    label: "Findings reach their SLA deadline within three days (a daily reminder)",
    type: "checkbox",
    defaultChecked: true,
    editableWhenConnected: true,
  },
  {
    name: "onlyIntegrations",
    label: "Only events from these integrations",
    type: "integrations",
    editableWhenConnected: true,
    help: "Choose none for events from every integration.",
  },
];

/** The message Test Connection sends. */
export function testNotification(at: Date): Notification {
  return {
    event: "test",
    level: "info",
    title: "Patchbay test message",
    text: "This is a test from Patchbay: notifications will arrive here.",
    facts: [{ label: "Sent", value: at.toISOString().replace("T", " ").slice(0, 16) + " UTC" }],
    more: 0,
    at: at.toISOString(),
  };
}
