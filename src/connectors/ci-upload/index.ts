// CI uploads: scanner reports sent to Patchbay (POST /api/v1/scans with an API token, or the
// Uploads page). No outside service: connecting it turns uploads on and gives their findings
// a source to belong to.
import type { Connector } from "../types.js";

export const ciUpload: Connector = {
  multiInstance: false,
  card: {
    kind: "ci-upload",
    name: "CI uploads",
    category: "scanners",
    summary: "Upload SARIF, CycloneDX, SPDX, Trivy, Grype, OSV-Scanner and npm audit reports from CI.",
    overview: {
      description:
        "Send scanner reports from your CI pipelines to Patchbay with an API token (POST /api/v1/scans), or upload them on the Uploads page. Formats are recognised on their own: SARIF 2.1.0, CycloneDX JSON and XML with vulnerabilities (VEX), SPDX 2.3 JSON (packages looked up in OSV), Trivy, Grype, OSV-Scanner and npm audit JSON. Findings are deduplicated with every other scanner's.",
      benefits: [
        "Any scanner that writes a standard report format",
        "Full-result uploads resolve what a scanner no longer reports",
        "Files up to 200 MB, read as they arrive",
      ],
      requirements: [
        "An API token with the upload scope (Settings → API tokens)",
        "For SBOMs: the Patchbay dependency monitor connected (it looks packages up in OSV)",
      ],
      docs: [
        { label: "SARIF 2.1.0", url: "https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html" },
        { label: "CycloneDX vulnerabilities (VEX)", url: "https://cyclonedx.org/capabilities/vex/" },
        { label: "Trivy JSON report", url: "https://trivy.dev/latest/docs/configuration/reporting/" },
      ],
    },
  },
  fields: [
    {
      name: "fullByDefault",
      label: "Treat uploads as full results",
      type: "checkbox",
      editableWhenConnected: true,
      glance: true,
      help: "An upload that does not say (full=true or false) is taken as the whole result for its asset: findings that tool no longer reports there are resolved.",
    },
  ],
  defaultName: () => "CI uploads",
  async test() {
    return {
      message: "Ready: uploads are accepted once connected.",
      details: ["From CI: POST /api/v1/scans with an API token (Settings → API tokens).", "By hand: the Uploads page."],
    };
  },
};
