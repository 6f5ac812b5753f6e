// Package names compared as their ecosystem compares them (vuln/packages.ts): PyPI by PEP
// 503, crates with "_" as "-", npm scopes and Maven coordinates however a purl spelled them.
// Findings whose key changes get the new key and fingerprint; two findings that become one
// are merged — sources, history, pull request links, tickets and push errors move to the
// older one, which takes the most telling status — and group tickets take the new key. Where
// a mapping then has two tickets for one subject, the older stays; the other keeps its
// place in the tracker, is no longer updated, and its changelog says where it went.
import type { Kysely } from "kysely";
import { fingerprint } from "../src/findings/normalize.js";
import { packageKey } from "../src/vuln/packages.js";

type Row = Record<string, any>;

const TRIAGED = ["risk_accepted", "false_positive"];
const OPEN = ["open", "in_remediation"];

export async function up(db: Kysely<any>): Promise<void> {
  const now = new Date().toISOString();
  const changed: { id: number; key: string; fingerprint: string }[] = [];
  const groupKeys = new Map<string, string>(); // old "package:<ecosystem>:<key>" → new
  for (let after = 0; ;) {
    const rows = await db
      .selectFrom("findings")
      .innerJoin("assets", "assets.id", "findings.asset_id")
      .select([
        "findings.id",
        "findings.ecosystem",
        "findings.package",
        "findings.package_lc",
        "findings.cve",
        "findings.installed_version",
        "assets.asset_key",
      ])
      .where("findings.id", ">", after)
      .orderBy("findings.id")
      .limit(5000)
      .execute();
    if (!rows.length) break;
    after = rows.at(-1)!.id;
    for (const r of rows) {
      const key = packageKey(r.ecosystem, r.package);
      if (key === r.package_lc) continue;
      changed.push({ id: r.id, key, fingerprint: fingerprint(r.cve, key, r.installed_version, r.asset_key) });
      groupKeys.set(`package:${r.ecosystem ?? ""}:${r.package_lc}`, `package:${r.ecosystem ?? ""}:${key}`);
    }
  }

  for (const c of changed) {
    const me = await db.selectFrom("findings").selectAll().where("id", "=", c.id).executeTakeFirst();
    if (!me) continue; // merged away already
    const other = await db.selectFrom("findings").selectAll().where("fingerprint", "=", c.fingerprint).where("id", "!=", c.id).executeTakeFirst();
    if (!other) {
      await db.updateTable("findings").set({ package_lc: c.key, fingerprint: c.fingerprint }).where("id", "=", c.id).execute();
      continue;
    }
    const [keep, drop] = other.id < me.id ? [other, me] : [me, other];
    await merge(db, keep, drop, c.key, c.fingerprint, now);
  }

  await renameUploadRecords(db);

  for (const [from, to] of groupKeys) {
    const tickets = await db.selectFrom("tickets").select(["id", "mapping_id"]).where("subject_key", "=", from).execute();
    for (const t of tickets) await moveTicket(db, t, to, now);
  }
}

/** The status a merged finding takes: a person's triage first, then open, then resolved. */
function mergedStatus(keep: Row, drop: Row): Row {
  const pick = TRIAGED.includes(keep.status)
    ? keep
    : TRIAGED.includes(drop.status)
      ? drop
      : OPEN.includes(keep.status)
        ? keep
        : OPEN.includes(drop.status)
          ? drop
          : keep;
  const status = !TRIAGED.includes(pick.status) && [keep.status, drop.status].includes("in_remediation") ? "in_remediation" : pick.status;
  return {
    status,
    status_reason: pick.status_reason,
    status_expires_at: pick.status_expires_at,
    resolved_at: status === "resolved" ? ([keep.resolved_at, drop.resolved_at].filter(Boolean).sort().at(-1) ?? now()) : null,
  };
}

const now = () => new Date().toISOString();
const earliest = (a: string | null, b: string | null) => (a && b ? (a < b ? a : b) : (a ?? b));
const latest = (a: string | null, b: string | null) => (a && b ? (a > b ? a : b) : (a ?? b));

async function merge(db: Kysely<any>, keep: Row, drop: Row, key: string, fp: string, stamp: string): Promise<void> {
  for (const table of ["finding_sources", "finding_events", "push_errors"]) {
    await db.updateTable(table).set({ finding_id: keep.id }).where("finding_id", "=", drop.id).execute();
  }
  for (const [table, other] of [
    ["remediation_findings", "remediation_id"],
    ["ticket_findings", "ticket_id"],
  ] as const) {
    const rows = await db.selectFrom(table).selectAll().where("finding_id", "=", drop.id).execute();
    for (const row of rows) {
      const taken = await db.selectFrom(table).select(other).where(other, "=", row[other]).where("finding_id", "=", keep.id).executeTakeFirst();
      if (!taken)
        await db
          .insertInto(table)
          .values({ ...row, finding_id: keep.id })
          .execute();
    }
    await db.deleteFrom(table).where("finding_id", "=", drop.id).execute();
  }
  // A ticket about the dropped finding alone becomes the kept finding's, unless it has one.
  for (const t of await db.selectFrom("tickets").select(["id", "mapping_id"]).where("subject_key", "=", `finding:${drop.id}`).execute()) {
    await moveTicket(db, t, `finding:${keep.id}`, stamp);
  }
  const status = mergedStatus(keep, drop);
  await db.deleteFrom("findings").where("id", "=", drop.id).execute();
  await db
    .updateTable("findings")
    .set({
      ...status,
      package_lc: key,
      fingerprint: fp,
      ecosystem: keep.ecosystem ?? drop.ecosystem,
      fixed_version: keep.fixed_version ?? drop.fixed_version,
      first_detected_at: earliest(keep.first_detected_at, drop.first_detected_at),
      last_seen_at: latest(keep.last_seen_at, drop.last_seen_at),
      tracker_closed_at: keep.tracker_closed_at ?? drop.tracker_closed_at,
      due_at: earliest(keep.due_at, drop.due_at),
      updated_at: stamp,
    })
    .where("id", "=", keep.id)
    .execute();
  await db
    .insertInto("finding_events")
    .values({
      finding_id: keep.id,
      at: stamp,
      actor: "upgrade",
      from_status: keep.status,
      to_status: status.status,
      note: `Merged with finding #${drop.id}: "${keep.package}" and "${drop.package}" are one package${(keep.ecosystem ?? drop.ecosystem) ? ` on ${keep.ecosystem ?? drop.ecosystem}` : ""}, so the two were one vulnerability.`,
    })
    .execute();
}

/** Gives a ticket a new subject; when its mapping already has a ticket for it, the older of the two keeps it and the other is retired into it. */
async function moveTicket(db: Kysely<any>, ticket: { id: number; mapping_id: number }, subject: string, stamp: string): Promise<void> {
  const holder = await db
    .selectFrom("tickets")
    .select(["id", "mapping_id"])
    .where("mapping_id", "=", ticket.mapping_id)
    .where("subject_key", "=", subject)
    .executeTakeFirst();
  if (holder && holder.id < ticket.id) return retire(db, ticket.id, holder.id, stamp);
  if (holder) await retire(db, holder.id, ticket.id, stamp);
  await db.updateTable("tickets").set({ subject_key: subject, updated_at: stamp }).where("id", "=", ticket.id).execute();
}

/** Moves a ticket's findings to the one it merges into; it stays in the tracker, no longer updated. */
async function retire(db: Kysely<any>, ticketId: number, intoId: number, stamp: string): Promise<void> {
  const into = await db.selectFrom("tickets").select(["id", "external_key", "url"]).where("id", "=", intoId).executeTakeFirstOrThrow();
  for (const row of await db.selectFrom("ticket_findings").select("finding_id").where("ticket_id", "=", ticketId).execute()) {
    const taken = await db
      .selectFrom("ticket_findings")
      .select("ticket_id")
      .where("ticket_id", "=", intoId)
      .where("finding_id", "=", row.finding_id)
      .executeTakeFirst();
    if (!taken) await db.insertInto("ticket_findings").values({ ticket_id: intoId, finding_id: row.finding_id }).execute();
  }
  await db.deleteFrom("ticket_findings").where("ticket_id", "=", ticketId).execute();
  await db
    .updateTable("tickets")
    .set({ subject_key: `retired:${ticketId}`, updated_at: stamp })
    .where("id", "=", ticketId)
    .execute();
  await db
    .insertInto("ticket_changes")
    .values({
      ticket_id: ticketId,
      at: stamp,
      action: "merged",
      detail: `Merged into ${into.external_key ?? into.url ?? `ticket #${into.id}`}: its findings were the same package under another spelling. Patchbay no longer updates this ticket; close it in the tracker.`,
    })
    .execute();
}

/**
 * Upload records are named by tool, asset, vulnerability and package key: the new keys
 * rename them, so a full-result upload after the upgrade does not take them for gone. Two
 * records the new key makes one become the older one (open if either was).
 */
async function renameUploadRecords(db: Kysely<any>): Promise<void> {
  for (let after = 0; ;) {
    const rows = await db
      .selectFrom("finding_sources")
      .innerJoin("integrations", "integrations.id", "finding_sources.integration_id")
      .select(["finding_sources.id", "finding_sources.integration_id", "finding_sources.external_id", "finding_sources.raw", "finding_sources.status"])
      .where("integrations.kind", "=", "ci-upload")
      .where("finding_sources.id", ">", after)
      .orderBy("finding_sources.id")
      .limit(2000)
      .execute();
    if (!rows.length) break;
    after = rows.at(-1)!.id;
    for (const row of rows) {
      let raw: Row;
      try {
        raw = JSON.parse(row.raw);
      } catch {
        continue;
      }
      const suffix = `:${raw.package}@${raw.installedVersion}`;
      if (typeof raw.package !== "string" || !row.external_id.endsWith(suffix)) continue;
      const renamed = `${row.external_id.slice(0, -suffix.length)}:${packageKey(raw.ecosystem ?? null, raw.package)}@${raw.installedVersion}`;
      if (renamed === row.external_id) continue;
      const taken = await db
        .selectFrom("finding_sources")
        .select(["id", "status"])
        .where("integration_id", "=", row.integration_id)
        .where("external_id", "=", renamed)
        .executeTakeFirst();
      if (!taken) {
        await db.updateTable("finding_sources").set({ external_id: renamed }).where("id", "=", row.id).execute();
        continue;
      }
      const [keep, drop] = taken.id < row.id ? [taken, row] : [row, taken];
      await db.deleteFrom("finding_sources").where("id", "=", drop.id).execute();
      await db
        .updateTable("finding_sources")
        .set({ external_id: renamed, status: keep.status === "open" || drop.status === "open" ? "open" : keep.status })
        .where("id", "=", keep.id)
        .execute();
    }
  }
}
