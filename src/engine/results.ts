/**
 * What a run resolves to: the record with its graph, built only when read.
 *
 * @module
 */

import { forEachHandle } from "./handles.ts";
import type { Node } from "./node.ts";
import type { Run } from "./run.ts";
import type { RunGraph, RunGraphEdge, RunGraphNode, RunResult } from "./types.ts";

/**
 * Makes `result.graph` build the run's graph when first read. Most callers
 * never read it (direct calls, `execute`, the CLI), and for a run of 100,000
 * nodes it is 300,000 objects: about 7% of the run's time and 200 B of heap
 * per node. Every node is final when a run ends, so the graph read later is
 * the graph at the end. The property stays an own enumerable one (spread,
 * JSON, structuredClone and deep equality see the graph), and the result
 * prints as a plain object would.
 */
export function withLazyGraph(result: RunResult, run: Run): RunResult {
  let graph: RunGraph | undefined;
  let source: Run | undefined = run;
  Object.defineProperty(result, "graph", {
    get(): RunGraph {
      if (graph === undefined) {
        graph = runGraph(source!);
        source = undefined;
      }
      return graph;
    },
    set(value: RunGraph) {
      graph = value;
      source = undefined;
    },
    enumerable: true,
    configurable: true,
  });
  Object.defineProperties(result, PRINT_AS_DATA);
  return result;
}

/** Printing hooks (Deno, node:util) that show a result with its graph, as a plain object prints. */
const PRINT_AS_DATA: PropertyDescriptorMap = {
  [Symbol.for("Deno.customInspect")]: {
    value(this: RunResult, inspect: (v: unknown, o: unknown) => string, options: unknown) {
      return inspect({ ...this }, options);
    },
  },
  [Symbol.for("nodejs.util.inspect.custom")]: {
    value(
      this: RunResult,
      _depth: number,
      options: unknown,
      inspect: (v: unknown, o: unknown) => string,
    ) {
      return inspect({ ...this }, options);
    },
  },
};

function runGraph(run: Run): RunGraph {
  const list = run.nodes;
  const nodes: RunGraphNode[] = new Array(list.length);
  const edges: RunGraphEdge[] = [];
  for (let i = 0; i < list.length; i++) {
    const node = list[i]!;
    nodes[i] = graphNode(node);
    if (node.hasHandles) {
      for (const input in node.args) addEdges(node.args[input], node.id, input, edges);
    }
  }
  return { nodes, edges };
}

/** A node as the run's graph shows it: the keys in a fixed order, optional ones only when set. */
function graphNode(node: Node): RunGraphNode {
  const parentId = node.parentId;
  const { startedAt, finishedAt } = node;
  // The common shapes are made whole, so that each object is allocated at its final size.
  if (
    node.cachedFrom === undefined && !node.replayed && startedAt !== undefined &&
    finishedAt !== undefined && node.after === undefined
  ) {
    return parentId === undefined
      ? {
        id: node.id,
        entity: node.def.name,
        kind: node.def.kind,
        status: node.status,
        attempts: node.attempt,
        startedAt,
        finishedAt,
      }
      : {
        id: node.id,
        entity: node.def.name,
        kind: node.def.kind,
        status: node.status,
        attempts: node.attempt,
        parentId,
        startedAt,
        finishedAt,
      };
  }
  const n: RunGraphNode = {
    id: node.id,
    entity: node.def.name,
    kind: node.def.kind,
    status: node.status,
    attempts: node.attempt,
  };
  if (parentId !== undefined) n.parentId = parentId;
  if (node.cachedFrom !== undefined) n.cached = true;
  if (node.replayed) n.replayed = true;
  if (startedAt !== undefined) n.startedAt = startedAt;
  if (finishedAt !== undefined) n.finishedAt = finishedAt;
  if (node.after !== undefined) n.after = node.after.map((d) => d.id);
  return n;
}

function addEdges(x: unknown, to: string, input: string, edges: RunGraphEdge[]): void {
  forEachHandle(x, (slot) => {
    const source = slot.source as Node;
    const output = slot.output;
    edges.push(
      output === undefined
        ? { from: source.id, to, input }
        : { from: source.id, to, input, output },
    );
  });
}
