/**
 * The PostgreSQL store's schema, in its own PostgreSQL schema (`weft` by
 * default): versioned migrations applied in order when a store is opened,
 * under an advisory lock so that processes starting together migrate once.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";
import type { PgClient } from "./connect.ts";

/** The schema version this code writes. */
export const PG_SCHEMA_VERSION = 6;

/** The migrations; `S` stands for the quoted schema name. */
const MIGRATIONS: ((s: string) => string)[] = [
  // 1: runs, nodes (the journal), content-addressed values, the cache.
  (s) => `
  CREATE TABLE ${s}.runs (
    id text PRIMARY KEY,
    entity text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    inputs_hash text NOT NULL,
    inputs_digest text NOT NULL,
    outputs_hash text,
    errors text,
    started_at bigint NOT NULL,
    finished_at bigint,
    attempts integer NOT NULL DEFAULT 1,
    script text,
    weft_version text NOT NULL
  );
  CREATE INDEX runs_started ON ${s}.runs (started_at DESC, id DESC);
  CREATE INDEX runs_inputs ON ${s}.runs (inputs_hash);
  CREATE TABLE ${s}.nodes (
    run_id text NOT NULL,
    id text NOT NULL,
    parent_id text,
    seq integer NOT NULL,
    entity text NOT NULL,
    kind text NOT NULL,
    version text,
    bare boolean NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL,
    started_at bigint,
    finished_at bigint,
    args_digest text NOT NULL,
    call text NOT NULL,
    inputs text,
    outputs text,
    error text,
    cached_from text,
    replayed boolean NOT NULL DEFAULT false,
    added integer NOT NULL,
    PRIMARY KEY (run_id, id)
  );
  CREATE TABLE ${s}."values" (
    hash text PRIMARY KEY,
    body text NOT NULL,
    size integer NOT NULL
  );
  CREATE TABLE ${s}.cache (
    key text PRIMARY KEY,
    task text NOT NULL,
    version text,
    value_hash text NOT NULL,
    source text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX cache_task ON ${s}.cache (task);`,
  // 2: one owner per run (as the SQLite store's schema 3): the owning
  // process and machine, its heartbeat and lease on the server's clock, a
  // cancel request; takeovers from owners that were gone.
  (s) => `
  CREATE TABLE ${s}.run_owners (
    run_id text PRIMARY KEY,
    owner_id text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    since bigint NOT NULL,
    heartbeat_at bigint NOT NULL,
    lease_ms bigint NOT NULL,
    cancel_requested_at bigint
  );
  CREATE TABLE ${s}.run_takeovers (
    run_id text NOT NULL,
    at bigint NOT NULL,
    owner_id text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    from_owner_id text NOT NULL,
    from_pid integer NOT NULL,
    from_host text NOT NULL,
    from_since bigint NOT NULL,
    from_heartbeat_at bigint NOT NULL,
    reason text NOT NULL
  );
  CREATE INDEX run_takeovers_run ON ${s}.run_takeovers (run_id, at);`,
  // 3: time and the outside world: a sleeping run's wake-up time and the
  // signals it waits for, signals sent to runs (each taken once), the fires
  // of schedules and the schedules servers serve.
  (s) => `
  ALTER TABLE ${s}.runs ADD COLUMN wake_at bigint;
  ALTER TABLE ${s}.runs ADD COLUMN waiting_for text;
  CREATE INDEX runs_sleeping ON ${s}.runs (status, wake_at);
  CREATE TABLE ${s}.signals (
    run_id text NOT NULL,
    seq integer NOT NULL,
    name text NOT NULL,
    body text NOT NULL,
    sent_at bigint NOT NULL,
    taken_by text,
    PRIMARY KEY (run_id, seq)
  );
  CREATE INDEX signals_waiting ON ${s}.signals (run_id, name, taken_by);
  CREATE TABLE ${s}.schedule_fires (
    schedule text NOT NULL,
    fire_at bigint NOT NULL,
    status text NOT NULL,
    run_id text,
    PRIMARY KEY (schedule, fire_at)
  );
  CREATE TABLE ${s}.schedules (
    name text PRIMARY KEY,
    script text,
    spec text NOT NULL,
    served_at bigint NOT NULL
  );`,
  // 4: what the web UI reads (as the SQLite store's schema 6): a node's rev
  // (its run's change counter at its last write), the nodes it takes data
  // from while its inputs are unknown, task logs, and runs listed a page at
  // a time by status and by entity.
  (s) => `
  ALTER TABLE ${s}.nodes ADD COLUMN rev bigint NOT NULL DEFAULT 0;
  ALTER TABLE ${s}.nodes ADD COLUMN deps text;
  CREATE TABLE ${s}.logs (
    run_id text NOT NULL,
    seq bigint NOT NULL,
    node_id text NOT NULL,
    attempt integer NOT NULL,
    time bigint NOT NULL,
    kind text NOT NULL,
    message text NOT NULL,
    error text,
    PRIMARY KEY (run_id, seq)
  );
  CREATE INDEX runs_status ON ${s}.runs (status, started_at DESC, id DESC);
  CREATE INDEX runs_entity ON ${s}.runs (entity, started_at DESC, id DESC);`,
  // 5: many machines. Ready task attempts wait in a small hot table
  // (unfinished work only: a completion deletes its row), claimed with a
  // lease token and a deadline from the database clock; queue limits; the
  // workers that are alive; running runs found fast (for adoption).
  (s) => `
  CREATE INDEX runs_running ON ${s}.runs (started_at) WHERE status = 'running';
  CREATE TABLE ${s}.tasks (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    node_id text NOT NULL,
    attempt integer NOT NULL,
    queue text NOT NULL,
    task text NOT NULL,
    concurrency integer,
    timeout_ms integer,
    inputs text NOT NULL,
    lease_token uuid,
    lease_until timestamptz,
    worker text,
    claims integer NOT NULL DEFAULT 0,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, node_id)
  ) WITH (fillfactor = 70);
  CREATE INDEX tasks_ready ON ${s}.tasks (queue, id) WHERE lease_token IS NULL;
  CREATE INDEX tasks_leases ON ${s}.tasks (lease_until) WHERE lease_token IS NOT NULL;
  CREATE TABLE ${s}.queues (
    name text PRIMARY KEY,
    concurrency integer,
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE ${s}.workers (
    id text PRIMARY KEY,
    pid integer NOT NULL,
    host text NOT NULL,
    queues text NOT NULL,
    script text NOT NULL,
    concurrency integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    held integer NOT NULL DEFAULT 0,
    stopping boolean NOT NULL DEFAULT false,
    lease_ms integer NOT NULL
  );`,
  // 6: the order runs were recorded in, which breaks ties between runs that
  // started in the same millisecond ("the newest run that made a value", as
  // SQLite's integer run key does).
  (s) => `ALTER TABLE ${s}.runs ADD COLUMN recorded bigserial;`,
];

/**
 * Creates or migrates the schema to {@linkcode PG_SCHEMA_VERSION}.
 *
 * @param sql The client.
 * @param schema The PostgreSQL schema weft's tables live in.
 * @param display The store URL, for messages.
 * @throws {ValidationError} For a schema written by a newer weft.
 */
export async function migrate(sql: PgClient, schema: string, display: string): Promise<void> {
  const s = quoteIdent(schema);
  const current = await readVersion(sql, s);
  if (current > PG_SCHEMA_VERSION) throw newer(display, current);
  if (current === PG_SCHEMA_VERSION) return;
  await sql.begin(async (tx) => {
    // One process migrates; the others wait here, then find nothing to do.
    await tx.unsafe(`SELECT pg_advisory_xact_lock(hashtext(${literal(`weft:${schema}`)}))`);
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await tx.unsafe(
      `CREATE TABLE IF NOT EXISTS ${s}.meta (key text PRIMARY KEY, value text NOT NULL)`,
    );
    const rows = await tx.unsafe(`SELECT value FROM ${s}.meta WHERE key = 'schema_version'`);
    const at = rows.length === 0 ? 0 : Number(rows[0]!.value);
    if (at > PG_SCHEMA_VERSION) throw newer(display, at);
    for (let v = at; v < PG_SCHEMA_VERSION; v++) await tx.unsafe(MIGRATIONS[v]!(s));
    await tx.unsafe(
      `INSERT INTO ${s}.meta (key, value) VALUES ('schema_version', $1)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [String(PG_SCHEMA_VERSION)],
    );
  });
}

async function readVersion(sql: PgClient, s: string): Promise<number> {
  try {
    const rows = await sql.unsafe(`SELECT value FROM ${s}.meta WHERE key = 'schema_version'`);
    return rows.length === 0 ? 0 : Number(rows[0]!.value);
  } catch (e) {
    // 42P01: no such table, 3F000: no such schema: a new store.
    const code = (e as { code?: string }).code;
    if (code === "42P01" || code === "3F000") return 0;
    throw e;
  }
}

function newer(display: string, version: number): ValidationError {
  return new ValidationError(
    `The store ${display} was written by a newer weft (schema ${version}; this weft reads up to ${PG_SCHEMA_VERSION}); upgrade weft or use another database or schema`,
  );
}

/**
 * Quotes an identifier for SQL.
 *
 * @param name The identifier.
 * @returns It in double quotes.
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
