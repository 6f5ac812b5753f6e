// Severity, the one scale every scanner's rating is read into: its values, in order.
export type Severity = "critical" | "high" | "medium" | "low" | "info";

export const SEVERITIES: Severity[] = ["critical", "high", "medium", "low", "info"];
export const SEVERITY_RANK: Record<Severity, number> = { critical: 5, high: 4, medium: 3, low: 2, info: 1 };

/** The risk score's bands (0–100): 90 and up critical, 70 high, 40 medium, below that low. */
export type RiskBand = "critical" | "high" | "medium" | "low";

export const RISK_BANDS: RiskBand[] = ["critical", "high", "medium", "low"];

export function riskBand(score: number): RiskBand {
  return score >= 90 ? "critical" : score >= 70 ? "high" : score >= 40 ? "medium" : "low";
}
