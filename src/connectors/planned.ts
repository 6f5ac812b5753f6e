// Connectors on Patchbay's roadmap. Their cards show a real Overview so a team can plan,
// and say plainly that they are coming; each moves to its own folder when it is built.
import type { Card, PlannedConnector } from "./types.js";

const planned = (card: Card): PlannedConnector => ({ status: "planned", card });

export const plannedConnectors: PlannedConnector[] = [
  planned({
    kind: "gitlab-vulnerabilities",
    name: "GitLab Vulnerabilities",
    category: "scanners",
    summary: "Import vulnerability findings from GitLab's security scanners.",
    overview: {
      description: "Import the findings of GitLab's dependency and container scanning through a connected GitLab integration.",
      benefits: ["Findings of GitLab's scanners next to your other scanners'", "Resolved findings followed automatically"],
      requirements: ["A connected GitLab integration with the api scope", "GitLab Ultimate for the vulnerability findings API"],
      docs: [{ label: "GitLab: Vulnerability findings API", url: "https://docs.gitlab.com/api/vulnerability_findings/" }],
    },
  }),
];
