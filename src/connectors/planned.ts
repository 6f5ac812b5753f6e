// Connectors on Patchbay's roadmap. Their cards show a real Overview so a team can plan, and
// say plainly that they are coming; each moves to its own folder when it is built. Every
// connector the Integration Hub's categories list is built today, so the roadmap is empty.
import type { PlannedConnector } from "./types.js";

export const plannedConnectors: PlannedConnector[] = [];
