/**
 * What lineage (`lineage.ts`) asks of the memory store, answered over the
 * engine's own node records. Values are hashed as the walk meets them; only
 * a reference by hash prefix needs every value the store holds.
 *
 * @module
 */

import { valueHash } from "../core/values.ts";
import type { LineagePort, RecordedNode } from "./lineage.ts";
import type { NodeRecord, RunStart } from "./mod.ts";
import { nodeOutputs, preview } from "./provenance.ts";

/**
 * The lineage port of the memory store.
 *
 * @param runs Its runs by id, oldest first.
 * @param outputHashes A node's outputs' hashes by name.
 * @param values Every value the store holds, by hash.
 * @returns The port.
 */
export function memoryLineagePort(
  runs: ReadonlyMap<string, { readonly start: RunStart; readonly nodes: Map<string, NodeRecord> }>,
  outputHashes: (node: NodeRecord) => Map<string, string>,
  values: () => Map<string, unknown>,
): LineagePort {
  const seen = new Map<string, unknown>();
  let all: Map<string, unknown> | undefined;
  const hashOf = (value: unknown) => {
    const hash = valueHash(value);
    seen.set(hash, value);
    return hash;
  };
  const recorded = (node: NodeRecord): RecordedNode => {
    const sources = node.inputSources();
    const outputs = nodeOutputs(node);
    const hashes = outputHashes(node);
    for (const o of outputs) seen.set(hashes.get(o.name)!, o.value);
    return {
      id: node.id,
      entity: node.entity,
      status: node.status,
      inputs: Object.entries(node.inputs ?? {}).map(([name, value]) => ({
        name,
        hash: hashOf(value),
        sources: sources.get(name) ?? [],
      })),
      outputs: [...hashes].map(([name, hash]) => ({ name, hash })),
      cachedFrom: node.cachedFrom,
    };
  };
  return {
    url: "the memory store",
    hasRun: (runId) => runs.has(runId),
    node: (runId, nodeId) => {
      const node = runs.get(runId)?.nodes.get(nodeId);
      return node === undefined ? undefined : recorded(node);
    },
    runNodes: (runId) => {
      const nodes = runs.get(runId)?.nodes;
      if (nodes === undefined) return [];
      return [...nodes.values()].map(recorded);
    },
    runInputs: (runId) =>
      Object.entries(runs.get(runId)?.start.inputs ?? {}).map(([name, value]) => ({
        name,
        hash: hashOf(value),
      })),
    hashesWithPrefix: (prefix) =>
      [...(all ??= values()).keys()].filter((h) => h.startsWith(prefix)),
    preview: (hash) => {
      if (seen.has(hash)) return preview(seen.get(hash));
      all ??= values();
      return all.has(hash) ? preview(all.get(hash)) : "?";
    },
    producers: (hash, limit) => {
      const out = [];
      for (const [runId, r] of [...runs].reverse()) {
        for (const node of r.nodes.values()) {
          if (node.status !== "succeeded" || node.replayed) continue;
          for (const [output, h] of outputHashes(node)) {
            if (h === hash) out.push({ runId, nodeId: node.id, output });
          }
        }
        if (out.length >= limit) break;
      }
      return out.slice(0, limit);
    },
  };
}
