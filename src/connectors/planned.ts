// Connectors on Patchbay's roadmap. Their cards show a real Overview so a team can plan,
// and say plainly that they are coming; each moves to its own folder when it is built.
import type { Card, PlannedConnector } from "./types.js";

const planned = (card: Card): PlannedConnector => ({ status: "planned", card });

export const plannedConnectors: PlannedConnector[] = [
];
