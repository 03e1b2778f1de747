/**
 * What lineage asks of the PostgreSQL store, for one walk: a run's nodes in
 * one query, and the small values inline in their rows kept for previews.
 *
 * @module
 */

import { decodeValue, valueHash } from "../../core/values.ts";
import type { LineagePort, ProducedValue } from "../lineage.ts";
import { preview } from "../provenance.ts";
import { recordedNode } from "../sqlite/lineage_port.ts";
import type { Row as SqliteRow } from "../sqlite/rows.ts";
import type { PgClient } from "./connect.ts";
import { nodeInputs, nodeOutputs } from "../rows.ts";
import { NODE_COLUMNS, type Row } from "./rows.ts";

/** What the port reads through. */
export interface PortDeps {
  /** The store URL, for messages. */
  url: string;
  /** The client. */
  sql: PgClient;
  /** The quoted schema. */
  schema: string;
  /** A value by hash. */
  value(hash: string): Promise<unknown>;
  /** A value's body by hash, when the store holds it. */
  body(hash: string): Promise<string | undefined>;
  /** Node rows whose inputs or outputs mention a text. */
  nodesWithText(text: string): Promise<Row[]>;
}

/**
 * The lineage port of a PostgreSQL store.
 *
 * @param d What it reads through.
 * @returns The port.
 */
export function pgLineagePort(d: PortDeps): LineagePort {
  const s = () => d.schema;
  const inline = new Map<string, string>();
  const recorded = (row: Row) => recordedNode(row as SqliteRow, inline);
  return {
    url: d.url,
    hasRun: async (runId) =>
      (await d.sql.unsafe(`SELECT 1 FROM ${s()}.runs WHERE id = $1`, [runId])).length > 0,
    node: async (runId, nodeId) => {
      const row = (await d.sql.unsafe(
        `SELECT ${NODE_COLUMNS} FROM ${s()}.nodes WHERE run_id = $1 AND id = $2`,
        [runId, nodeId],
      ))[0] as Row | undefined;
      return row === undefined ? undefined : recorded(row);
    },
    runNodes: async (runId) =>
      ((await d.sql.unsafe(
        `SELECT ${NODE_COLUMNS} FROM ${s()}.nodes WHERE run_id = $1 ORDER BY added`,
        [runId],
      )) as unknown as Row[]).map(recorded),
    runInputs: async (runId) => {
      const row = (await d.sql.unsafe(
        `SELECT inputs_hash FROM ${s()}.runs WHERE id = $1`,
        [runId],
      ))[0] as Row | undefined;
      if (row === undefined) return [];
      const inputs = await d.value(row.inputs_hash as string) as Record<string, unknown>;
      return Object.entries(inputs).map(([name, value]) => ({ name, hash: valueHash(value) }));
    },
    hashesWithPrefix: async (prefix) => {
      if (prefix.length === 64) return (await d.body(prefix)) === undefined ? [] : [prefix];
      const found = new Set<string>();
      const rows = await d.sql.unsafe(
        `SELECT hash FROM ${s()}."values" WHERE hash LIKE $1 LIMIT 2`,
        [`${prefix}%`],
      );
      for (const r of rows) found.add(r.hash as string);
      for (const n of await d.nodesWithText(prefix)) {
        for (const o of nodeOutputs(n)) if (o.hash.startsWith(prefix)) found.add(o.hash);
        for (const i of nodeInputs(n)) {
          if (i.hash.startsWith(prefix) && (i.body !== undefined || found.has(i.hash))) {
            found.add(i.hash);
          }
        }
      }
      return [...found];
    },
    preview: async (hash) => {
      const body = inline.get(hash) ?? await d.body(hash);
      return body === undefined ? "?" : preview(decodeValue(body));
    },
    producers: async (hash, limit) => {
      const out: ProducedValue[] = [];
      for (const n of await d.nodesWithText(hash)) {
        if (n.status !== "succeeded" || n.replayed === true) continue;
        for (const o of nodeOutputs(n)) {
          if (o.hash === hash) {
            out.push({ runId: n.run_id as string, nodeId: n.id as string, output: o.name });
          }
        }
        if (out.length >= limit) break;
      }
      return out.slice(0, limit);
    },
  };
}
