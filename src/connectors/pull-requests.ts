// What every source control connector offers about pull requests from outside the
// repository: one setting, the same on each, that widens linking to them (off by default).
// Patchbay never writes into such a pull request, whatever the setting.
import type { SettingField } from "./types.js";

export const LINK_OUTSIDE_PULL_REQUESTS = "linkOutsidePullRequests";

export const linkOutsidePullRequestsField: SettingField = {
  name: LINK_OUTSIDE_PULL_REQUESTS,
  label: "Also follow pull requests from forks by people without write access",
  type: "checkbox",
  editableWhenConnected: true,
  help: "Off: only the repository's own pull requests (its branches, or its owners, members and collaborators) put findings in remediation — anyone can open a pull request on a public repository. On: outsiders' pull requests are followed too. Patchbay never writes ticket keys into an outsider's pull request.",
};
