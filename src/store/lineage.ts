/**
 * The lineage of a value, written once for every store: from a value (its
 * hash, a prefix of it, or `RUN_ID/NODE_ID[/OUTPUT]`) back through the
 * executions that produced it and their inputs. A store answers a few narrow
 * questions (the {@linkcode LineagePort}); the walk is here.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { InputSource, Lineage, NodeStatus } from "./mod.ts";

/** A recorded output: which execution made it, and its value's hash. */
export interface ProducedValue {
  /** The run. */
  readonly runId: string;
  /** The node. */
  readonly nodeId: string;
  /** The entity the node ran. */
  readonly entity: string;
  /** The output's name. */
  readonly output: string;
  /** The node's status. */
  readonly status: NodeStatus;
}

/** An input of a recorded execution. */
export interface RecordedInput {
  /** The input's name. */
  readonly name: string;
  /** Its value's hash. */
  readonly hash: string;
  /** The node outputs it came from, when it came from nodes. */
  readonly sources: readonly InputSource[];
}

/** A recorded node, as far as lineage needs it. */
export interface RecordedNode {
  /** The entity the node ran. */
  readonly entity: string;
  /** Its status. */
  readonly status: NodeStatus;
  /** Its outputs' names and hashes (none unless it succeeded). */
  readonly outputs: readonly { readonly name: string; readonly hash: string }[];
}

/** A value, or a promise of it: an embedded store answers at once, a server store later. */
export type Answer<T> = T | Promise<T>;

/** What a store answers so that {@linkcode lineageOf} can walk. */
export interface LineagePort {
  /** How the store was opened, for messages. */
  readonly url: string;
  /** Whether a run exists. */
  hasRun(runId: string): Answer<boolean>;
  /** A node of a run, or undefined. */
  node(runId: string, nodeId: string): Answer<RecordedNode | undefined>;
  /** The inputs of a node (empty when unknown). */
  inputsOf(runId: string, nodeId: string): Answer<readonly RecordedInput[]>;
  /** Every full hash that starts with `prefix` and whose value the store holds (two are enough to be ambiguous). */
  hashesWithPrefix(prefix: string): Answer<readonly string[]>;
  /** A short preview of a value, or `?` when the store does not hold it. */
  preview(hash: string): Answer<string>;
  /** The runs that took the value as their inputs. */
  runsWithInputs(hash: string): Answer<readonly string[]>;
  /** The succeeded, not replayed executions that output the value. */
  producers(hash: string): Answer<readonly ProducedValue[]>;
}

/** At most this many producers of one value are followed. */
const MAX_PRODUCERS = 20;

/**
 * The lineage tree of a value.
 *
 * @param port The store's answers.
 * @param ref A value hash (or prefix of 8+ hex digits), or `RUN_ID/NODE_ID[/OUTPUT]`.
 * @param depth How many producing steps to follow back.
 * @returns The tree.
 * @throws {ValidationError} When the reference matches nothing, or a prefix matches several values.
 */
export async function lineageOf(port: LineagePort, ref: string, depth: number): Promise<Lineage> {
  return await walk(port, await refToHash(port, ref), depth, new Set());
}

/**
 * The hash a reference names.
 *
 * @param port The store's answers.
 * @param ref A value hash (or prefix), or `RUN_ID/NODE_ID[/OUTPUT]`.
 * @returns The full hash.
 * @throws {ValidationError} When the reference matches nothing, or a prefix matches several values.
 */
export async function refToHash(port: LineagePort, ref: string): Promise<string> {
  if (ref.includes("/")) {
    const [runId, ...rest] = ref.split("/");
    if (!(await port.hasRun(runId!))) {
      throw new ValidationError(`No run '${runId}' in ${port.url}; list runs with weft runs`);
    }
    // A node id may itself hold slashes (inner/add): try the longest node id first.
    for (let cut = rest.length; cut >= 1; cut--) {
      const nodeId = rest.slice(0, cut).join("/");
      const output = rest.slice(cut).join("/");
      const outputs = (await port.node(runId!, nodeId))?.outputs ?? [];
      if (outputs.length === 0) continue;
      const chosen = output === ""
        ? (outputs.length === 1 ? outputs[0] : undefined)
        : outputs.find((o) => o.name === output);
      if (chosen === undefined) {
        throw new ValidationError(
          `Node '${nodeId}' of run '${runId}' has outputs ${
            outputs.map((o) => o.name).join(", ")
          }; name one: ${runId}/${nodeId}/${outputs[0]!.name}`,
        );
      }
      return chosen.hash;
    }
    throw new ValidationError(
      `Run '${runId}' has no node '${
        rest.join("/")
      }' with a recorded output; see weft show ${runId}`,
    );
  }
  const hash = await resolveHash(port, ref);
  if (hash === undefined) {
    throw new ValidationError(
      `No value ${ref} in ${port.url}; give a value hash (or 8+ digit prefix) or RUN_ID/NODE_ID/OUTPUT`,
    );
  }
  return hash;
}

/**
 * The full hash of a value by hash or unique prefix.
 *
 * @param port The store's answers.
 * @param ref A hash or a prefix of at least 8 hex digits.
 * @returns The hash, or undefined when the store holds no such value.
 * @throws {ValidationError} When the prefix matches several values.
 */
export async function resolveHash(
  port: LineagePort,
  ref: string,
): Promise<string | undefined> {
  if (!/^[0-9a-f]{8,64}$/.test(ref)) return undefined;
  const found = await port.hashesWithPrefix(ref);
  if (found.length > 1) {
    throw new ValidationError(
      `The value prefix ${ref} is ambiguous (${found.length} values); give more digits`,
    );
  }
  return found[0];
}

async function walk(
  port: LineagePort,
  hash: string,
  depth: number,
  seen: Set<string>,
  from?: { runId: string; sources: readonly InputSource[] },
): Promise<Lineage> {
  const preview = await port.preview(hash);
  const runInputOf = await port.runsWithInputs(hash);
  if (depth <= 0 || seen.has(hash)) {
    return { hash, preview, producedBy: [], runInputOf, truncated: true };
  }
  seen.add(hash);
  const step = async (p: ProducedValue): Promise<Lineage["producedBy"][number]> => {
    const inputs: { name: string; lineage: Lineage }[] = [];
    for (const i of await port.inputsOf(p.runId, p.nodeId)) {
      inputs.push({
        name: i.name,
        lineage: await walk(port, i.hash, depth - 1, seen, { runId: p.runId, sources: i.sources }),
      });
    }
    return {
      runId: p.runId,
      nodeId: p.nodeId,
      entity: p.entity,
      output: p.output,
      status: p.status,
      inputs,
    };
  };
  let producers = (await port.producers(hash)).slice(0, MAX_PRODUCERS);
  if (producers.length === 0 && from !== undefined) {
    // A value assembled from several node outputs (an array or object of handles): follow each.
    const found: ProducedValue[] = [];
    for (const src of from.sources) {
      const node = await port.node(from.runId, src.node);
      if (node === undefined) continue;
      found.push({
        runId: from.runId,
        nodeId: src.node,
        entity: node.entity,
        output: src.output ?? node.outputs[0]?.name ?? "o0",
        status: node.status,
      });
    }
    producers = found;
  }
  const producedBy: Lineage["producedBy"][number][] = [];
  for (const p of producers) producedBy.push(await step(p));
  seen.delete(hash);
  return { hash, preview, producedBy, runInputOf, truncated: false };
}
