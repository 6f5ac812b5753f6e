// Every migration, in order. A static map rather than FileMigrationProvider, whose
// runtime readdir + import() cannot work inside an esbuild bundle. Append only.
import type { Migration } from "kysely";
import * as m0001 from "./0001_initial.js";
import * as m0002 from "./0002_findings.js";
import * as m0003 from "./0003_repositories_from_scm.js";
import * as m0004 from "./0004_remediation.js";
import * as m0005 from "./0005_oauth_states.js";
import * as m0006 from "./0006_repository_webhooks.js";
import * as m0007 from "./0007_tickets.js";
import * as m0008 from "./0008_registry_images.js";
import * as m0009 from "./0009_dependencies.js";
import * as m0010 from "./0010_uploads.js";
import * as m0011 from "./0011_job_progress_claims.js";
import * as m0012 from "./0012_findings_asset_counts.js";
import * as m0013 from "./0013_job_lanes.js";
import * as m0014 from "./0014_finding_counts.js";
import * as m0015 from "./0015_two_way_sync.js";
import * as m0016 from "./0016_reconcile_runs.js";
import * as m0017 from "./0017_finding_due_dates.js";
import * as m0018 from "./0018_finding_snapshots.js";
import * as m0019 from "./0019_ticket_templates.js";
import * as m0020 from "./0020_integration_health.js";
import * as m0021 from "./0021_ownership_routing.js";
import * as m0022 from "./0022_outside_pull_requests.js";
import * as m0023 from "./0023_webhook_body_hash.js";
import * as m0024 from "./0024_sign_in_attempts.js";
import * as m0025 from "./0025_ticket_origin.js";
import * as m0026 from "./0026_bulk_push_lanes.js";
import * as m0027 from "./0027_package_keys.js";
import * as m0028 from "./0028_dependency_chains.js";
import * as m0029 from "./0029_pace_buckets.js";
import * as m0030 from "./0030_sync_runs.js";
import * as m0031 from "./0031_integration_names.js";
import * as m0032 from "./0032_one_time_passwords.js";
import * as m0033 from "./0033_api_token_owners.js";
import * as m0034 from "./0034_audit_log.js";
import * as m0035 from "./0035_two_step_sign_in.js";
import * as m0036 from "./0036_openid_connect.js";
import * as m0037 from "./0037_schedule_ticks.js";
import * as m0038 from "./0038_token_refresh_lock.js";
import * as m0039 from "./0039_count_generation.js";
import * as m0040 from "./0040_pinned_jobs.js";
import * as m0041 from "./0041_statement_count_triggers.js";
import * as m0042 from "./0042_pace_writes.js";
import * as m0043 from "./0043_fix_proposals.js";
import * as m0044 from "./0044_image_scans.js";
import * as m0045 from "./0045_exploitation_feeds.js";
import * as m0046 from "./0046_finding_risk.js";
import * as m0047 from "./0047_risk_context.js";
import * as m0048 from "./0048_policy.js";
import * as m0049 from "./0049_repository_owner.js";
import * as m0050 from "./0050_finding_facets.js";
import * as m0051 from "./0051_resolution_days.js";
import * as m0052 from "./0052_asset_counts.js";
import * as postgresBaseline from "./postgres/baseline.js";

export const migrations: Record<string, Migration> = {
  "0001_initial": m0001,
  "0002_findings": m0002,
  "0003_repositories_from_scm": m0003,
  "0004_remediation": m0004,
  "0005_oauth_states": m0005,
  "0006_repository_webhooks": m0006,
  "0007_tickets": m0007,
  "0008_registry_images": m0008,
  "0009_dependencies": m0009,
  "0010_uploads": m0010,
  "0011_job_progress_claims": m0011,
  "0012_findings_asset_counts": m0012,
  "0013_job_lanes": m0013,
  "0014_finding_counts": m0014,
  "0015_two_way_sync": m0015,
  "0016_reconcile_runs": m0016,
  "0017_finding_due_dates": m0017,
  "0018_finding_snapshots": m0018,
  "0019_ticket_templates": m0019,
  "0020_integration_health": m0020,
  "0021_ownership_routing": m0021,
  "0022_outside_pull_requests": m0022,
  "0023_webhook_body_hash": m0023,
  "0024_sign_in_attempts": m0024,
  "0025_ticket_origin": m0025,
  "0026_bulk_push_lanes": m0026,
  "0027_package_keys": m0027,
  "0028_dependency_chains": m0028,
  "0029_pace_buckets": m0029,
  "0030_sync_runs": m0030,
  "0031_integration_names": m0031,
  "0032_one_time_passwords": m0032,
  "0033_api_token_owners": m0033,
  "0034_audit_log": m0034,
  "0035_two_step_sign_in": m0035,
  "0036_openid_connect": m0036,
  "0037_schedule_ticks": m0037,
  "0038_token_refresh_lock": m0038,
  "0039_count_generation": m0039,
  "0040_pinned_jobs": m0040,
  "0041_statement_count_triggers": m0041,
  "0042_pace_writes": m0042,
  "0043_fix_proposals": m0043,
  "0044_image_scans": m0044,
  "0045_exploitation_feeds": m0045,
  "0046_finding_risk": m0046,
  "0047_risk_context": m0047,
  "0048_policy": m0048,
  "0049_repository_owner": m0049,
  "0050_finding_facets": m0050,
  "0051_resolution_days": m0051,
  "0052_asset_counts": m0052,
};

/**
 * PostgreSQL's migrations: the baseline (SQLite's schema after 0038, written for PostgreSQL, under
 * 0038's name), then every migration after it, shared with SQLite.
 */
export const POSTGRES_BASELINE = "0038_token_refresh_lock";
export const postgresMigrations: Record<string, Migration> = {
  [POSTGRES_BASELINE]: postgresBaseline,
  ...Object.fromEntries(Object.entries(migrations).filter(([name]) => name > POSTGRES_BASELINE)),
};
