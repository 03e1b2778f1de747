/**
 * The SQLite store's schema: its versioned migrations, applied in order
 * when a file is opened, and the statements the store prepares.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ValidationError } from "../../core/errors.ts";
import type { Row } from "./rows.ts";

/** The schema version this code writes. */
export const SCHEMA_VERSION = 7;

/**
 * The node columns of schema 1, which schema 2 keeps as they were (it adds an
 * integer key and copies the rows over).
 */
const NODE_COLUMNS_1 = `run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    parent_id TEXT,
    seq INTEGER NOT NULL,
    entity TEXT NOT NULL,
    kind TEXT NOT NULL,
    version TEXT,
    bare INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    args_digest TEXT NOT NULL,
    call TEXT NOT NULL,
    inputs TEXT,
    outputs TEXT,
    error TEXT,
    cached_from TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL`;

const MIGRATIONS: string[] = [
  // 1: the first schema
  `CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    inputs_digest TEXT NOT NULL,
    outputs_hash TEXT,
    errors TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    script TEXT,
    weft_version TEXT NOT NULL
  );
  CREATE INDEX runs_started ON runs(started_at);
  CREATE TABLE nodes (
    ${NODE_COLUMNS_1},
    -- Keyed by the order nodes were added, so that a run's rows are appended
    -- (one page per commit) rather than spread by their ids.
    PRIMARY KEY (run_id, added)
  ) WITHOUT ROWID;
  CREATE TABLE "values" (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    size INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    version TEXT,
    value_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX cache_task ON cache(task);`,
  // 2: a node's key is its run's number and its order in the run, as one
  // integer (run << 32 | added): a run's nodes are one range of rowids, and a
  // durable step inserts into an integer-keyed table (3-6 µs less per step
  // than the composite text key of schema 1, for the same lookups).
  `ALTER TABLE runs ADD COLUMN key INTEGER;
  UPDATE runs SET key = rowid;
  CREATE UNIQUE INDEX runs_key ON runs(key);
  CREATE TABLE nodes_v2 (
    key INTEGER PRIMARY KEY,
    ${NODE_COLUMNS_1}
  );
  INSERT INTO nodes_v2 (key, run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at, finished_at, args_digest, call, inputs, outputs, error, cached_from, replayed, added)
    SELECT (r.key << 32) + n.added, n.run_id, n.id, n.parent_id, n.seq, n.entity, n.kind, n.version, n.bare, n.status, n.attempts, n.started_at, n.finished_at, n.args_digest, n.call, n.inputs, n.outputs, n.error, n.cached_from, n.replayed, n.added FROM nodes AS n JOIN runs AS r ON r.id = n.run_id;
  DROP TABLE nodes;
  ALTER TABLE nodes_v2 RENAME TO nodes;`,
  // 3: one owner per run. A run being executed holds a row here (the
  // process, its machine, its heartbeat and lease, a cancel request from
  // elsewhere); a takeover from an owner that was gone is recorded.
  `CREATE TABLE run_owners (
    run_id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    since INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lease_ms INTEGER NOT NULL,
    cancel_requested_at INTEGER
  ) WITHOUT ROWID;
  CREATE TABLE run_takeovers (
    run_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    owner_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    from_owner_id TEXT NOT NULL,
    from_pid INTEGER NOT NULL,
    from_host TEXT NOT NULL,
    from_since INTEGER NOT NULL,
    from_heartbeat_at INTEGER NOT NULL,
    reason TEXT NOT NULL
  );
  CREATE INDEX run_takeovers_run ON run_takeovers(run_id, at);`,
  // 4: cheaper run starts and ends. A run's number is its rowid (one index
  // less to write, and no MAX() to find the next one: SQLite gives a new row
  // the largest rowid plus one); runs are listed by number, newest first (no
  // index on the start time); and small inputs and outputs are kept in the
  // run's row, as a node's are, rather than in the values table.
  `CREATE TABLE runs_v4 (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    entity TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    inputs TEXT,
    inputs_digest TEXT NOT NULL,
    outputs_hash TEXT,
    outputs TEXT,
    errors TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    script TEXT,
    weft_version TEXT NOT NULL
  );
  INSERT INTO runs_v4 (key, id, entity, kind, status, inputs_hash, inputs_digest, outputs_hash, errors, started_at, finished_at, attempts, script, weft_version)
    SELECT key, id, entity, kind, status, inputs_hash, inputs_digest, outputs_hash, errors, started_at, finished_at, attempts, script, weft_version FROM runs;
  DROP TABLE runs;
  ALTER TABLE runs_v4 RENAME TO runs;`,
  // 5: time and the outside world: a sleeping run's wake-up time and the
  // signals it waits for, the signals sent to runs (each taken once, by the
  // node that received it), and what became of each fire time of a schedule.
  `ALTER TABLE runs ADD COLUMN wake_at INTEGER;
  ALTER TABLE runs ADD COLUMN waiting_for TEXT;
  CREATE INDEX runs_sleeping ON runs(status, wake_at);
  CREATE TABLE signals (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    taken_by TEXT,
    PRIMARY KEY (run_id, seq)
  );
  CREATE INDEX signals_waiting ON signals(run_id, name, taken_by);
  CREATE TABLE schedule_fires (
    schedule TEXT NOT NULL,
    fire_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    run_id TEXT,
    PRIMARY KEY (schedule, fire_at)
  );
  CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    script TEXT,
    spec TEXT NOT NULL,
    served_at INTEGER NOT NULL
  );`,
  // 6: what the web UI reads. A node's rev is its run's change counter at its
  // last write (a page asks for rows changed since the last it saw); deps are
  // the nodes it takes data from, written while its inputs are not yet known;
  // logs hold ctx.log lines and retried attempts (keyed as nodes are: the
  // run's number << 32 plus the line's number in the run).
  `ALTER TABLE nodes ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE nodes ADD COLUMN deps TEXT;
  CREATE TABLE logs (
    key INTEGER PRIMARY KEY,
    node_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    time INTEGER NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    error TEXT
  );`,
  // 7: cheaper run starts and ends. Only sleeping runs are in the index of
  // wake-up times: a run that starts and ends without sleeping no longer
  // moves an entry of it at each change of its status (a page written to
  // the WAL at its start and at its end).
  `DROP INDEX runs_sleeping;
  CREATE INDEX runs_sleeping ON runs(wake_at) WHERE status = 'sleeping';`,
];

/**
 * Creates or migrates the schema of a file to {@linkcode SCHEMA_VERSION}.
 *
 * @param db The open file.
 * @param path Its path, for messages.
 * @throws {ValidationError} For a file written by a newer weft.
 */
export function migrate(db: DatabaseSync, path: string): void {
  db.exec("CREATE TABLE IF NOT EXISTS weft_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = db.prepare("SELECT value FROM weft_meta WHERE key = 'schema_version'").get() as
    | Row
    | undefined;
  const current = row === undefined ? 0 : Number(row.value);
  if (current > SCHEMA_VERSION) {
    throw new ValidationError(
      `The store ${path} was written by a newer weft (schema ${current}; this weft reads up to ${SCHEMA_VERSION}); upgrade weft or use another store`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Another process may have migrated while this one waited for the lock.
    const again = db.prepare("SELECT value FROM weft_meta WHERE key = 'schema_version'").get() as
      | Row
      | undefined;
    for (let v = again === undefined ? 0 : Number(again.value); v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
    }
    db.prepare("INSERT OR REPLACE INTO weft_meta (key, value) VALUES ('schema_version', ?)").run(
      String(SCHEMA_VERSION),
    );
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

/**
 * The node columns rows are read with: every one but \`key\`, which can exceed
 * what a JavaScript number holds exactly.
 */
const NODE_COLUMNS =
  "run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at, finished_at, args_digest, call, inputs, outputs, error, cached_from, replayed, added";

/** The rows of run \`?1\`: its keys run from its number << 32 to the next number's. */
const RUN_RANGE =
  "key BETWEEN (SELECT key FROM runs WHERE id = ?1) << 32 AND ((SELECT key FROM runs WHERE id = ?1) << 32) + 4294967295";

/**
 * Prepares every statement the store runs.
 *
 * @param db The open file.
 * @returns The statements by name.
 */
export function prepareAll(db: DatabaseSync): Record<string, StatementSync> {
  const sql: Record<string, string> = {
    begin: "BEGIN",
    commit: "COMMIT",
    rollback: "ROLLBACK",
    getRun: "SELECT * FROM runs WHERE id = ?",
    insertRun:
      "INSERT INTO runs (id, entity, kind, status, inputs_hash, inputs, inputs_digest, started_at, script, weft_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
    resumeRun:
      "UPDATE runs SET status = 'running', finished_at = NULL, errors = NULL, attempts = attempts + 1, weft_version = ?, wake_at = NULL, waiting_for = NULL WHERE id = ?",
    suspendRun:
      "UPDATE runs SET status = 'sleeping', wake_at = ?, waiting_for = ?, finished_at = NULL WHERE id = ?",
    earliestWaiting:
      "SELECT MIN(sent_at) AS at FROM signals WHERE run_id = ?1 AND taken_by IS NULL AND name IN (SELECT value FROM json_each(?2))",
    runStatus: "SELECT status, wake_at, waiting_for FROM runs WHERE id = ?",
    nextSignalSeq: "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM signals WHERE run_id = ?",
    insertSignal: "INSERT INTO signals (run_id, seq, name, body, sent_at) VALUES (?, ?, ?, ?, ?)",
    wakeForSignal:
      "UPDATE runs SET wake_at = MIN(COALESCE(wake_at, ?1), ?1) WHERE id = ?2 AND status = 'sleeping'",
    signalTakenBy: "SELECT seq, body, sent_at FROM signals WHERE run_id = ? AND taken_by = ?",
    signalFree:
      "SELECT seq, body, sent_at FROM signals WHERE run_id = ? AND name = ? AND taken_by IS NULL ORDER BY seq LIMIT 1",
    takeSignal: "UPDATE signals SET taken_by = ? WHERE run_id = ? AND seq = ?",
    lastSignal: "SELECT COALESCE(MAX(seq), 0) AS seq FROM signals WHERE run_id = ?",
    listSignals:
      "SELECT seq, name, body, sent_at, taken_by FROM signals WHERE run_id = ? ORDER BY seq",
    sleepingRuns:
      "SELECT id, entity, script, wake_at, waiting_for FROM runs WHERE status = 'sleeping' AND (?1 IS NULL OR wake_at <= ?1) ORDER BY wake_at IS NULL, wake_at, id LIMIT ?2",
    claimWake:
      "UPDATE runs SET status = 'running', wake_at = NULL WHERE id = ? AND status = 'sleeping' AND wake_at <= ?",
    claimFire:
      "INSERT OR IGNORE INTO schedule_fires (schedule, fire_at, status, run_id) VALUES (?, ?, ?, ?)",
    putSchedule:
      "INSERT OR REPLACE INTO schedules (name, script, spec, served_at) VALUES (?, ?, ?, ?)",
    listSchedules: "SELECT name, script, spec, served_at FROM schedules ORDER BY name",
    updateFire:
      "UPDATE schedule_fires SET status = ?, run_id = ? WHERE schedule = ? AND fire_at = ?",
    listFires:
      "SELECT schedule, fire_at, status, run_id FROM schedule_fires WHERE schedule = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY fire_at DESC LIMIT ?3",
    finishRun:
      "UPDATE runs SET status = ?, outputs_hash = ?, outputs = ?, errors = ?, finished_at = ? WHERE id = ?",
    upsertNode:
      `INSERT INTO nodes (key, run_id, id, parent_id, seq, entity, kind, version, bare, status, attempts, started_at,
        finished_at, args_digest, call, inputs, outputs, error, cached_from, added, rev, deps)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET id = excluded.id, parent_id = excluded.parent_id, seq = excluded.seq, entity = excluded.entity,
        kind = excluded.kind, version = excluded.version, bare = excluded.bare, status = excluded.status,
        attempts = excluded.attempts, started_at = excluded.started_at, finished_at = excluded.finished_at,
        args_digest = excluded.args_digest, call = excluded.call,
        inputs = COALESCE(excluded.inputs, nodes.inputs), outputs = excluded.outputs, error = excluded.error,
        cached_from = excluded.cached_from, replayed = 0, rev = excluded.rev,
        deps = COALESCE(nodes.deps, excluded.deps)`,
    runNodes: `SELECT ${NODE_COLUMNS} FROM nodes WHERE ${RUN_RANGE} ORDER BY key`,
    getNode: `SELECT ${NODE_COLUMNS} FROM nodes WHERE ${RUN_RANGE} AND id = ?2`,
    nodeOrder: `SELECT id, added FROM nodes WHERE ${RUN_RANGE}`,
    nodesWithText:
      `SELECT ${NODE_COLUMNS} FROM nodes WHERE instr(outputs, ?1) > 0 OR instr(inputs, ?1) > 0 ORDER BY started_at DESC, key DESC LIMIT 200`,
    putValue: 'INSERT OR IGNORE INTO "values" (hash, body, size) VALUES (?, ?, ?)',
    getValue: 'SELECT body FROM "values" WHERE hash = ?',
    valuePrefix: 'SELECT hash FROM "values" WHERE hash LIKE ? LIMIT 2',
    runBody:
      "SELECT inputs AS body FROM runs WHERE inputs_hash = ?1 AND inputs IS NOT NULL UNION ALL SELECT outputs FROM runs WHERE outputs_hash = ?1 AND outputs IS NOT NULL LIMIT 1",
    runHashPrefix:
      "SELECT inputs_hash AS hash FROM runs WHERE inputs_hash LIKE ?1 AND inputs IS NOT NULL UNION SELECT outputs_hash FROM runs WHERE outputs_hash LIKE ?1 AND outputs IS NOT NULL LIMIT 2",
    executions:
      `SELECT ${NODE_COLUMNS} FROM nodes WHERE entity = ? AND kind = 'task' ORDER BY started_at DESC, added DESC`,
    getCache: "SELECT value_hash, source FROM cache WHERE key = ?",
    putCache:
      "INSERT OR REPLACE INTO cache (key, task, version, value_hash, source, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    clearCache: "DELETE FROM cache",
    clearCacheTask: "DELETE FROM cache WHERE task = ?",
    beginImmediate: "BEGIN IMMEDIATE",
    // What the web UI reads.
    runEntities: "SELECT DISTINCT entity FROM runs ORDER BY entity",
    taskCounts:
      `SELECT status, cached_from IS NOT NULL AS cached, count(*) AS n FROM nodes WHERE ${RUN_RANGE} AND kind = 'task' GROUP BY 1, 2`,
    nodeSummaries:
      `SELECT id, parent_id, entity, kind, status, attempts, started_at, finished_at, cached_from, replayed, deps,
        CASE WHEN deps IS NULL THEN inputs END AS inputs, json_extract(error, '$.message') AS error_message, rev, added
      FROM nodes WHERE key BETWEEN ((SELECT key FROM runs WHERE id = ?1) << 32) + ?2 AND ((SELECT key FROM runs WHERE id = ?1) << 32) + 4294967295
        AND rev > ?3 ORDER BY key`,
    firstOpen:
      `SELECT MIN(added) AS added FROM nodes WHERE key BETWEEN ((SELECT key FROM runs WHERE id = ?1) << 32) + ?2 AND ((SELECT key FROM runs WHERE id = ?1) << 32) + 4294967295
        AND status NOT IN ('succeeded', 'failed', 'skipped', 'cancelled')`,
    maxRev: `SELECT COALESCE(MAX(rev), 0) AS rev FROM nodes WHERE ${RUN_RANGE}`,
    lastLog:
      `SELECT COALESCE(MAX(key) - ((SELECT key FROM runs WHERE id = ?1) << 32), -1) AS seq FROM logs WHERE ${RUN_RANGE}`,
    insertLog:
      "INSERT INTO logs (key, node_id, attempt, time, kind, message, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
    runLogs:
      `SELECT node_id, attempt, time, kind, message, error FROM logs WHERE ${RUN_RANGE} ORDER BY key`,
    nodeLogs:
      `SELECT node_id, attempt, time, kind, message, error FROM logs WHERE ${RUN_RANGE} AND node_id = ?2 ORDER BY key`,
    changeCount: "SELECT data_version + total_changes() AS n FROM pragma_data_version",
    getOwner: "SELECT * FROM run_owners WHERE run_id = ?",
    claimFree:
      "INSERT INTO run_owners (run_id, owner_id, pid, host, since, heartbeat_at, lease_ms, cancel_requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (run_id) DO NOTHING",
    putOwner:
      "INSERT OR REPLACE INTO run_owners (run_id, owner_id, pid, host, since, heartbeat_at, lease_ms, cancel_requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
    renewOwner:
      "UPDATE run_owners SET heartbeat_at = ? WHERE run_id = ? AND owner_id = ? RETURNING cancel_requested_at",
    releaseOwner: "DELETE FROM run_owners WHERE run_id = ? AND owner_id = ?",
    cancelOwner:
      "UPDATE run_owners SET cancel_requested_at = COALESCE(cancel_requested_at, ?) WHERE run_id = ? RETURNING *",
    putTakeover:
      "INSERT INTO run_takeovers (run_id, at, owner_id, pid, host, from_owner_id, from_pid, from_host, from_since, from_heartbeat_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    takeovers: "SELECT * FROM run_takeovers WHERE run_id = ? ORDER BY at, rowid",
  };
  const out: Record<string, StatementSync> = {};
  for (const [name, text] of Object.entries(sql)) out[name] = db.prepare(text);
  return out;
}
