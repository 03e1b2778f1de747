/**
 * What the lineage walk asks of a SQLite store, answered for one walk: a
 * run's nodes are read in one range scan, and the small values inline in
 * their rows are kept for previews, so that a walk through a long run does
 * no query per step.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import { decodeValue, valueHash } from "../../core/values.ts";
import type { LineagePort, ProducedValue, RecordedNode } from "../lineage.ts";
import type { NodeStatus } from "../mod.ts";
import { preview } from "../provenance.ts";
import { nodeInputs, nodeOutputs } from "../rows.ts";
import type { Row } from "./rows.ts";

/**
 * A node row (of SQLite, or PostgreSQL's same columns) as the lineage walk
 * needs it; the small values inline in it are kept for previews.
 *
 * @param row The row.
 * @param inline Where to keep inline values, by hash.
 * @returns The node.
 */
export function recordedNode(row: Row, inline: Map<string, string>): RecordedNode {
  const outputs = nodeOutputs(row);
  const inputs = nodeInputs(row);
  for (const v of [...outputs, ...inputs]) if (v.body !== undefined) inline.set(v.hash, v.body);
  return {
    id: row.id as string,
    entity: row.entity as string,
    status: row.status as NodeStatus,
    inputs: inputs.map((i) => ({ name: i.name, hash: i.hash, sources: i.sources ?? [] })),
    outputs: outputs.map((o) => ({ name: o.name, hash: o.hash })),
    cachedFrom: (row.cached_from as string | null) ?? undefined,
  };
}

/**
 * The lineage port of a SQLite store.
 *
 * @param url The store's URL, for messages.
 * @param s The store's prepared statements.
 * @param body A value's encoded body by hash (values table or inline), or undefined.
 * @returns The port, with its own cache of inline values.
 */
export function lineagePort(
  url: string,
  s: Record<string, StatementSync>,
  body: (hash: string) => string | undefined,
): LineagePort {
  const inline = new Map<string, string>();
  const recorded = (row: Row) => recordedNode(row, inline);
  return {
    url,
    hasRun: (runId) => s.getRun!.get(runId) !== undefined,
    node: (runId, nodeId) => {
      const row = s.getNode!.get(runId, nodeId) as Row | undefined;
      return row === undefined ? undefined : recorded(row);
    },
    runNodes: (runId) => (s.runNodes!.all(runId) as Row[]).map(recorded),
    runInputs: (runId) => {
      const row = s.getRun!.get(runId) as Row | undefined;
      if (row === undefined) return [];
      // (Small inputs are kept in the run's row.)
      const text = typeof row.inputs === "string" ? row.inputs : body(row.inputs_hash as string);
      if (text === undefined) return [];
      const inputs = decodeValue(text) as Record<string, unknown>;
      return Object.entries(inputs).map(([name, value]) => ({ name, hash: valueHash(value) }));
    },
    hashesWithPrefix: (prefix) => {
      if (prefix.length === 64) return body(prefix) === undefined ? [] : [prefix];
      const found = new Set<string>();
      for (const r of s.runHashPrefix!.all(`${prefix}%`) as Row[]) found.add(r.hash as string);
      for (const r of s.valuePrefix!.all(`${prefix}%`) as Row[]) {
        found.add(r.hash as string);
      }
      for (const n of s.nodesWithText!.all(prefix) as Row[]) {
        for (const o of nodeOutputs(n)) if (o.hash.startsWith(prefix)) found.add(o.hash);
        for (const i of nodeInputs(n)) {
          if (i.hash.startsWith(prefix) && body(i.hash) !== undefined) found.add(i.hash);
        }
      }
      return [...found];
    },
    preview: (hash) => {
      const text = inline.get(hash) ?? body(hash);
      return text === undefined ? "?" : preview(decodeValue(text));
    },
    producers: (hash, limit) => {
      const out: ProducedValue[] = [];
      for (const n of s.nodesWithText!.all(hash) as Row[]) {
        if (n.status !== "succeeded" || Number(n.replayed) === 1) continue;
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
