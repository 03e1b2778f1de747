/**
 * What one group commit of the PostgreSQL store writes, and the one
 * statement that writes it. The statement holds only the parts that have
 * rows (node rows, values, cache entries, run starts and ends, log lines,
 * the task queue's rows), each as a data-modifying CTE, so that the common
 * commit — one node row of one sequential step — is one plain upsert. A part
 * with one row takes it as typed parameters (`VALUES ($1::text, …)`), with
 * more as one JSON parameter (`json_to_recordset`): either way the
 * statement's text depends only on the batch's shape, never on its values,
 * so it is prepared once per connection and shape.
 *
 * @module
 */

/** A node row as the writer sends it. */
export interface NodeRow {
  run_id: string;
  id: string;
  parent_id: string | null;
  seq: number;
  entity: string;
  kind: string;
  version: string | null;
  bare: boolean;
  status: string;
  attempts: number;
  started_at: number | null;
  finished_at: number | null;
  args_digest: string;
  call: string;
  inputs: string | null;
  outputs: string | null;
  error: string | null;
  cached_from: string | null;
  added: number;
  /** The run's change counter at this write. */
  rev: number;
  /** The nodes it takes data from, while its inputs are not yet known (JSON). */
  deps: string | null;
}

/** A task's log line (or retried attempt) as the writer sends it. */
export interface LogRow {
  run_id: string;
  seq: number;
  node_id: string;
  attempt: number;
  time: number;
  kind: string;
  message: string;
  error: string | null;
}

/** A cache entry as the writer sends it. */
export interface CacheRow {
  key: string;
  task: string;
  version: string | null;
  value_hash: string;
  source: string;
  created_at: number;
}

/** A finished run as the writer sends it. */
export interface FinishRow {
  id: string;
  status: string;
  outputs_hash: string | null;
  errors: string | null;
  finished_at: number;
  /** The claim given up in the same commit, if any (fenced: only while it is still the owner). */
  owner_id: string | null;
}

/**
 * A run's start as the writer sends it: its claim, and its row where the
 * claim was granted — both only if no one holds the run id.
 */
export interface StartRow {
  run_id: string;
  entity: string;
  kind: string;
  inputs_hash: string;
  inputs_digest: string;
  started_at: number;
  script: string | null;
  weft_version: string;
  owner_id: string;
  pid: number;
  host: string;
  lease_ms: number;
}

/** What a run start got from its commit. */
export interface StartResult {
  /** The claim was granted (no one held the run id). */
  readonly owned: boolean;
  /** When, on the server's clock (when owned). */
  readonly since: number;
  /** The run's row was written by this start (else the run id was recorded before: a resume). */
  readonly created: boolean;
}

/** Extra rows another part of the store adds to the same commit (the task queue). */
export interface BatchExtension {
  /** Its parameters for this commit, or null when it has nothing. */
  take(): unknown[] | null;
  /** The SQL of its CTEs, given the numbers of its parameters. */
  sql(params: number[]): string;
  /** How many parameters it takes. */
  readonly params: number;
  /**
   * An expression the statement selects, so that a CTE that only selects
   * (a NOTIFY) runs: PostgreSQL skips CTEs nothing refers to, unless they modify data.
   */
  readonly select?: string;
  /** Called after a commit it took part in, with whether it succeeded. */
  settled?(ok: boolean): void;
}

/** The server's clock, in ms since the epoch. */
export const NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** Everything one commit writes. */
export class Batch {
  values = new Map<string, string>();
  nodes = new Map<string, NodeRow>();
  cache = new Map<string, CacheRow>();
  finishes = new Map<string, FinishRow>();
  starts = new Map<string, StartRow>();
  logs: LogRow[] = [];

  /** Whether it holds nothing. */
  get empty(): boolean {
    return this.values.size === 0 && this.nodes.size === 0 && this.cache.size === 0 &&
      this.finishes.size === 0 && this.starts.size === 0 && this.logs.length === 0;
  }
}

type Columns = readonly (readonly [name: string, type: string])[];

const VALUE_COLUMNS: Columns = [["hash", "text"], ["body", "text"]];
const NODE_COLUMNS: Columns = [
  ["run_id", "text"],
  ["id", "text"],
  ["parent_id", "text"],
  ["seq", "integer"],
  ["entity", "text"],
  ["kind", "text"],
  ["version", "text"],
  ["bare", "boolean"],
  ["status", "text"],
  ["attempts", "integer"],
  ["started_at", "bigint"],
  ["finished_at", "bigint"],
  ["args_digest", "text"],
  ["call", "text"],
  ["inputs", "text"],
  ["outputs", "text"],
  ["error", "text"],
  ["cached_from", "text"],
  ["added", "integer"],
  ["rev", "bigint"],
  ["deps", "text"],
];
const CACHE_COLUMNS: Columns = [
  ["key", "text"],
  ["task", "text"],
  ["version", "text"],
  ["value_hash", "text"],
  ["source", "text"],
  ["created_at", "bigint"],
];
const FINISH_COLUMNS: Columns = [
  ["id", "text"],
  ["status", "text"],
  ["outputs_hash", "text"],
  ["errors", "text"],
  ["finished_at", "bigint"],
  ["owner_id", "text"],
];
const LOG_COLUMNS: Columns = [
  ["run_id", "text"],
  ["seq", "bigint"],
  ["node_id", "text"],
  ["attempt", "integer"],
  ["time", "bigint"],
  ["kind", "text"],
  ["message", "text"],
  ["error", "text"],
];
const START_COLUMNS: Columns = [
  ["run_id", "text"],
  ["entity", "text"],
  ["kind", "text"],
  ["inputs_hash", "text"],
  ["inputs_digest", "text"],
  ["started_at", "bigint"],
  ["script", "text"],
  ["weft_version", "text"],
  ["owner_id", "text"],
  ["pid", "integer"],
  ["host", "text"],
  ["lease_ms", "bigint"],
];

const names = (cols: Columns, prefix = ""): string => cols.map(([c]) => prefix + c).join(", ");

/**
 * Rows as a relation `x` with the columns' names: typed parameters for one
 * row, one JSON parameter for more.
 *
 * @param cols The columns.
 * @param rows The rows (objects keyed by column).
 * @param params The statement's parameters, added to.
 * @param text Whether to build the FROM item's text (else only the parameters are added).
 * @returns The FROM item (empty when `text` is false).
 */
function source(cols: Columns, rows: readonly object[], params: unknown[], text: boolean): string {
  if (rows.length === 1) {
    const row = rows[0] as Record<string, unknown>;
    const first = params.length + 1;
    for (const [c] of cols) params.push(row[c] ?? null);
    if (!text) return "";
    const refs = cols.map(([, t], i) => `$${first + i}::${t}`);
    return `(VALUES (${refs.join(", ")})) AS x(${names(cols)})`;
  }
  // (postgres.js sends a json parameter as JSON.stringify of the value given.)
  params.push(rows);
  if (!text) return "";
  return `json_to_recordset($${params.length}::json) AS x(${
    cols.map(([c, t]) => `${c} ${t}`).join(", ")
  })`;
}

/** How many rows a part has, as its statement text depends on it: none, one, more. */
const shape = (n: number): string => n === 0 ? "0" : n === 1 ? "1" : "n";

/**
 * Statement texts by schema and shape: a commit's text depends only on which
 * parts have rows, one or more, and which other parts take part, so it is
 * built once per shape (a sequential step sends the same text every time).
 */
const texts = new Map<string, string>();

/**
 * @internal How many statement texts were built (one per schema and shape
 * seen), for tests.
 *
 * @returns The count.
 */
export function statementTextsBuilt(): number {
  return built;
}
let built = 0;

/** The statement of one commit. */
export interface BatchStatement {
  /** Its text (the same for every batch of the same shape). */
  readonly text: string;
  /** Its parameters. */
  readonly params: unknown[];
}

/**
 * The one statement that writes a batch, and notifies `weft_changes` (the
 * web UI, in any process) with the schema's name.
 *
 * @param s The quoted schema.
 * @param batch What to write.
 * @param extensions The store's other parts, and the parameters each took (null: nothing).
 * @returns The statement; it selects `owned` and `created` (JSON lists of run ids) when it starts runs.
 */
export function batchStatement(
  s: string,
  batch: Batch,
  extensions: readonly { ext: BatchExtension; params: unknown[] | null }[],
): BatchStatement {
  const finishes = batch.finishes.size === 0 ? [] : [...batch.finishes.values()];
  const released = finishes.some((r) => r.owner_id !== null);
  let key = `${s}|${shape(batch.values.size)}${shape(batch.starts.size)}${shape(batch.nodes.size)}${
    shape(batch.cache.size)
  }${shape(finishes.length)}${released ? "o" : ""}${shape(batch.logs.length)}`;
  for (const x of extensions) key += x.params === null ? "|-" : `|${x.params.length}`;
  const known = texts.get(key);
  // The text is built only for a shape not seen before; the parameters always.
  const text = known === undefined;
  const params: unknown[] = [];
  const ctes: string[] = [];
  const selects: string[] = [];
  if (batch.values.size > 0) {
    const rows = [...batch.values].map(([hash, body]) => ({ hash, body }));
    const from = source(VALUE_COLUMNS, rows, params, text);
    if (text) {
      ctes.push(`v AS (INSERT INTO ${s}."values" (hash, body, size)
      SELECT x.hash, x.body, length(x.body) FROM ${from}
      ON CONFLICT (hash) DO NOTHING)`);
    }
  }
  if (batch.starts.size > 0) {
    // The claim first: a run's row is written only where its claim was
    // granted, that is where no one held the run id. A claim of this very
    // owner found in place is a commit sent again after a lost connection.
    // (In the order of their ids, as any other process's commit takes them:
    // two commits that meet on the same run ids wait for each other, never
    // deadlock.)
    const rows = [...batch.starts.values()].sort((a, b) => a.run_id < b.run_id ? -1 : 1);
    const from = source(START_COLUMNS, rows, params, text);
    if (text) {
      ctes.push(
        `sx AS (SELECT * FROM ${from})`,
        `so AS (INSERT INTO ${s}.run_owners (run_id, owner_id, pid, host, since, heartbeat_at, lease_ms)
        SELECT x.run_id, x.owner_id, x.pid, x.host, ${NOW}, ${NOW}, x.lease_ms FROM sx AS x
        ON CONFLICT (run_id) DO UPDATE SET owner_id = run_owners.owner_id
          WHERE run_owners.owner_id = excluded.owner_id
        RETURNING run_id, since)`,
        `sr AS (INSERT INTO ${s}.runs (id, entity, kind, status, inputs_hash, inputs_digest, started_at,
          script, weft_version)
        SELECT x.run_id, x.entity, x.kind, 'running', x.inputs_hash, x.inputs_digest, x.started_at,
          x.script, x.weft_version FROM sx AS x JOIN so ON so.run_id = x.run_id
        ON CONFLICT (id) DO NOTHING RETURNING id)`,
      );
      selects.push(
        `(SELECT json_agg(json_build_array(run_id, since)) FROM so) AS owned`,
        `(SELECT json_agg(id) FROM sr) AS created`,
      );
    }
  }
  if (batch.nodes.size > 0) {
    const from = source(NODE_COLUMNS, [...batch.nodes.values()], params, text);
    if (text) {
      ctes.push(`n AS (INSERT INTO ${s}.nodes (${names(NODE_COLUMNS)})
        SELECT ${names(NODE_COLUMNS, "x.")} FROM ${from}
        ON CONFLICT (run_id, id) DO UPDATE SET parent_id = excluded.parent_id, seq = excluded.seq,
          entity = excluded.entity, kind = excluded.kind, version = excluded.version,
          bare = excluded.bare, status = excluded.status, attempts = excluded.attempts,
          started_at = excluded.started_at, finished_at = excluded.finished_at,
          args_digest = excluded.args_digest, call = excluded.call,
          inputs = COALESCE(excluded.inputs, nodes.inputs), outputs = excluded.outputs,
          error = excluded.error, cached_from = excluded.cached_from, replayed = false,
          rev = excluded.rev, deps = COALESCE(nodes.deps, excluded.deps)
        -- A result in the journal stays: a driver that took a run over may still
        -- hold a node as running that a worker completed since it read the journal.
        WHERE nodes.status <> 'succeeded' OR excluded.status = 'succeeded')`);
    }
  }
  if (batch.cache.size > 0) {
    const from = source(CACHE_COLUMNS, [...batch.cache.values()], params, text);
    if (text) {
      ctes.push(`c AS (INSERT INTO ${s}.cache (${names(CACHE_COLUMNS)})
        SELECT ${names(CACHE_COLUMNS, "x.")} FROM ${from}
        ON CONFLICT (key) DO UPDATE SET task = excluded.task, version = excluded.version,
          value_hash = excluded.value_hash, source = excluded.source, created_at = excluded.created_at)`);
    }
  }
  if (finishes.length > 0) {
    const from = source(FINISH_COLUMNS, finishes, params, text);
    if (text) {
      ctes.push(
        `fx AS (SELECT * FROM ${from})`,
        `f AS (UPDATE ${s}.runs AS r SET status = x.status, outputs_hash = x.outputs_hash,
          errors = x.errors, finished_at = x.finished_at
        FROM fx AS x WHERE r.id = x.id)`,
      );
      if (released) {
        // The end of the run gives its claim up in the same commit.
        ctes.push(`fo AS (DELETE FROM ${s}.run_owners AS o USING fx AS x
        WHERE o.run_id = x.id AND o.owner_id = x.owner_id)`);
      }
    }
  }
  if (batch.logs.length > 0) {
    const from = source(LOG_COLUMNS, batch.logs, params, text);
    if (text) {
      ctes.push(`l AS (INSERT INTO ${s}.logs (${names(LOG_COLUMNS)})
        SELECT ${names(LOG_COLUMNS, "x.")} FROM ${from}
        ON CONFLICT (run_id, seq) DO NOTHING)`);
    }
  }
  for (const { ext, params: values } of extensions) {
    if (values === null) continue;
    const numbers = values.map((v) => {
      params.push(v);
      return params.length;
    });
    if (text) {
      ctes.push(ext.sql(numbers));
      if (ext.select !== undefined) selects.push(ext.select);
    }
  }
  // Pages watching the store (the web UI, on any machine) hear of each commit.
  params.push(s);
  if (known !== undefined) return { text: known, params };
  const statement = `WITH ${ctes.join(",\n")}
    SELECT ${[`pg_notify('weft_changes', $${params.length})`, ...selects].join(", ")}`;
  // (Shapes are few; the bound only keeps a pathological mix from growing it.)
  if (texts.size >= 1024) texts.clear();
  texts.set(key, statement);
  built++;
  return { text: statement, params };
}

/**
 * What the starts of a batch got, from the statement's row.
 *
 * @param row The row (`owned`: [run id, since] pairs; `created`: run ids).
 * @returns The result by run id (a run id missing was not claimed).
 */
export function startResults(
  row: { owned?: [string, string | number][] | null; created?: string[] | null } | undefined,
): Map<string, StartResult> {
  const out = new Map<string, StartResult>();
  const created = new Set(row?.created ?? []);
  for (const [runId, since] of row?.owned ?? []) {
    out.set(runId, { owned: true, since: Number(since), created: created.has(runId) });
  }
  return out;
}
