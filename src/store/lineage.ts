/**
 * The lineage of a value, written once for every store: from a value (its
 * hash, a prefix of it, or `RUN_ID/NODE_ID[/OUTPUT]`) back through the
 * executions that produced it and their inputs. A store answers a few narrow
 * questions (the {@linkcode LineagePort}); the walk is here.
 *
 * The walk stays in one run unless asked to widen: within a run, an input
 * leads to the node outputs the run recorded it came from (a handle passed
 * as an argument); an input with no recorded source — a constant, or a value
 * a flow body awaited and passed on — ends the walk there, since equal values
 * made elsewhere say nothing of where it came from. It is breadth-first, each
 * execution is expanded once (at its shortest distance from the value), and
 * it stops at a depth and a number of executions, so that its work and its
 * answer stay bounded however often a value recurs.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type {
  InputSource,
  Lineage,
  LineageOptions,
  LineageSource,
  LineageStep,
  LineageValue,
  NodeStatus,
} from "./mod.ts";

/** A recorded output: which execution made it. */
export interface ProducedValue {
  /** The run. */
  readonly runId: string;
  /** The node. */
  readonly nodeId: string;
  /** The output's name. */
  readonly output: string;
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
  /** The node id. */
  readonly id: string;
  /** The entity the node ran. */
  readonly entity: string;
  /** Its status. */
  readonly status: NodeStatus;
  /** Its inputs (empty when unknown). */
  readonly inputs: readonly RecordedInput[];
  /** Its outputs' names and hashes (none unless it succeeded). */
  readonly outputs: readonly { readonly name: string; readonly hash: string }[];
  /** For a cache hit: the `runId/nodeId` whose result was reused. */
  readonly cachedFrom: string | undefined;
}

/** A value, or a promise of it: an embedded store answers at once, a server store later. */
export type Answer<T> = T | Promise<T>;

/**
 * What a store answers so that {@linkcode lineageOf} can walk. A walk asks
 * for the nodes of each run it enters once, so a store answers it with one
 * query per run, not one per step.
 */
export interface LineagePort {
  /** How the store was opened, for messages. */
  readonly url: string;
  /** Whether a run exists. */
  hasRun(runId: string): Answer<boolean>;
  /** A node of a run, or undefined. */
  node(runId: string, nodeId: string): Answer<RecordedNode | undefined>;
  /** Every node of a run, in the order they were added. */
  runNodes(runId: string): Answer<readonly RecordedNode[]>;
  /** The inputs a run was started with: each one's name and its value's hash. */
  runInputs(runId: string): Answer<readonly { readonly name: string; readonly hash: string }[]>;
  /** Every full hash that starts with `prefix` and whose value the store holds (two are enough to be ambiguous). */
  hashesWithPrefix(prefix: string): Answer<readonly string[]>;
  /**
   * A short preview of a value, or `?` when the store does not hold it. A
   * store may answer from the small values inline in the nodes it returned.
   */
  preview(hash: string): Answer<string>;
  /** Succeeded, not replayed executions that output the value, newest first, at most `limit`. */
  producers(hash: string, limit: number): Answer<readonly ProducedValue[]>;
}

/** At most this many producers of one value are followed into other runs. */
const MAX_PRODUCERS = 20;
/** At most this many values are looked up in other runs (each lookup may scan the store). */
const MAX_WIDENINGS = 50;

/**
 * The lineage of a value.
 *
 * @param port The store's answers.
 * @param ref A value hash (or prefix of 8+ hex digits), or `RUN_ID/NODE_ID[/OUTPUT]`.
 * @param options Depth, whether to leave the run, and the most executions to expand.
 * @returns The graph of executions that led to the value, each listed once.
 * @throws {ValidationError} When the reference matches nothing, or a prefix matches several values.
 */
export async function lineageOf(
  port: LineagePort,
  ref: string,
  options: LineageOptions = {},
): Promise<Lineage> {
  const depth = options.depth ?? 10;
  const limit = options.limit ?? 1000;
  for (const [name, v] of [["depth", depth], ["limit", limit]] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new ValidationError(
        `Cannot walk lineage as '${name}' must be a non-negative integer: current value is ${v}`,
      );
    }
  }
  return await new Walk(port, depth, limit, options.acrossRuns ?? false).start(ref);
}

/**
 * The hash a reference names.
 *
 * @param port The store's answers.
 * @param ref A value hash (or prefix), or `RUN_ID/NODE_ID[/OUTPUT]`.
 * @returns The full hash, with the run and node when the reference names them.
 * @throws {ValidationError} When the reference matches nothing, or a prefix matches several values.
 */
export async function refToHash(
  port: LineagePort,
  ref: string,
): Promise<{ hash: string; runId?: string; nodeId?: string; output?: string }> {
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
      return { hash: chosen.hash, runId: runId!, nodeId, output: chosen.name };
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
  return { hash };
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

/** What the walk knows of a run it entered. */
interface RunIndex {
  readonly nodes: Map<string, RecordedNode>;
  inputs: readonly { readonly name: string; readonly hash: string }[] | undefined;
}

interface MutableStep {
  runId: string;
  nodeId: string;
  entity: string;
  status: NodeStatus;
  cachedFrom: string | undefined;
  expanded: boolean;
  inputs: (LineageValue & { name: string })[];
}

class Walk {
  readonly #port: LineagePort;
  readonly #depth: number;
  readonly #limit: number;
  readonly #across: boolean;
  readonly #runs = new Map<string, RunIndex>();
  readonly #steps = new Map<string, MutableStep>();
  readonly #previews = new Map<string, Answer<string>>();
  /** Steps waiting to be expanded, with their distance from the value. */
  readonly #queue: { key: string; level: number }[] = [];
  #expanded = 0;
  #widenings = 0;
  #truncated = false;

  constructor(port: LineagePort, depth: number, limit: number, across: boolean) {
    this.#port = port;
    this.#depth = depth;
    this.#limit = limit;
    this.#across = across;
  }

  async start(ref: string): Promise<Lineage> {
    const named = await refToHash(this.#port, ref);
    const from: LineageSource[] = [];
    let home: string | undefined = named.runId;
    if (named.runId !== undefined) {
      from.push(await this.#link(named.runId, named.nodeId!, named.output!, "edge", 1));
    } else {
      const producers = await this.#port.producers(named.hash, MAX_PRODUCERS);
      home = producers[0]?.runId;
      for (const p of producers) {
        if (!this.#across && p.runId !== home) continue;
        from.push(await this.#link(p.runId, p.nodeId, p.output, "hash", 1));
      }
    }
    const value: LineageValue = {
      hash: named.hash,
      preview: await this.#preview(named.hash),
      from,
      runInputOf: home === undefined ? [] : await this.#runInputOf(home, named.hash),
    };
    // Breadth first: a step is expanded at its shortest distance from the value.
    for (let i = 0; i < this.#queue.length; i++) await this.#expand(this.#queue[i]!);
    const steps: Record<string, LineageStep> = {};
    for (const [key, s] of this.#steps) steps[key] = s;
    return {
      value,
      steps,
      runs: [...new Set([...(home === undefined ? [] : [home]), ...this.#runs.keys()])],
      truncated: this.#truncated,
    };
  }

  /** A link to a node output; the node becomes a step (expanded later if within bounds). */
  async #link(
    runId: string,
    nodeId: string,
    output: string,
    by: LineageSource["by"],
    level: number,
  ): Promise<LineageSource> {
    const key = `${runId}/${nodeId}`;
    if (!this.#steps.has(key)) {
      const node = (await this.#run(runId)).nodes.get(nodeId);
      this.#steps.set(key, {
        runId,
        nodeId,
        entity: node?.entity ?? "?",
        status: node?.status ?? "pending",
        cachedFrom: node?.cachedFrom,
        expanded: false,
        inputs: [],
      });
      if (node !== undefined) {
        if (level > this.#depth) this.#truncated = true;
        else this.#queue.push({ key, level });
      }
    }
    return { step: key, output, by };
  }

  async #expand({ key, level }: { key: string; level: number }): Promise<void> {
    if (this.#expanded >= this.#limit) {
      this.#truncated = true;
      return;
    }
    this.#expanded++;
    const step = this.#steps.get(key)!;
    const run = await this.#run(step.runId);
    const node = run.nodes.get(step.nodeId)!;
    step.expanded = true;
    for (const input of node.inputs) {
      const from: LineageSource[] = [];
      for (const src of input.sources) {
        const source = run.nodes.get(src.node);
        const output = src.output ?? source?.outputs[0]?.name ?? "o0";
        from.push(await this.#link(step.runId, src.node, output, "edge", level + 1));
      }
      const runInputOf = from.length > 0 ? [] : await this.#runInputOf(step.runId, input.hash);
      if (from.length === 0 && this.#across) {
        for (const p of await this.#widen(input.hash)) {
          if (p.runId === step.runId) continue;
          from.push(await this.#link(p.runId, p.nodeId, p.output, "hash", level + 1));
        }
      }
      step.inputs.push({
        name: input.name,
        hash: input.hash,
        preview: await this.#preview(input.hash),
        from,
        runInputOf,
      });
    }
  }

  async #widen(hash: string): Promise<readonly ProducedValue[]> {
    if (this.#widenings >= MAX_WIDENINGS) {
      this.#truncated = true;
      return [];
    }
    this.#widenings++;
    return await this.#port.producers(hash, MAX_PRODUCERS);
  }

  async #run(runId: string): Promise<RunIndex> {
    let index = this.#runs.get(runId);
    if (index === undefined) {
      const nodes = new Map<string, RecordedNode>();
      for (const n of await this.#port.runNodes(runId)) nodes.set(n.id, n);
      index = { nodes, inputs: undefined };
      this.#runs.set(runId, index);
    }
    return index;
  }

  async #runInputOf(runId: string, hash: string): Promise<{ runId: string; input: string }[]> {
    const run = await this.#run(runId);
    run.inputs ??= await this.#port.runInputs(runId);
    return run.inputs.filter((i) => i.hash === hash).map((i) => ({ runId, input: i.name }));
  }

  async #preview(hash: string): Promise<string> {
    let p = this.#previews.get(hash);
    if (p === undefined) this.#previews.set(hash, p = this.#port.preview(hash));
    return await p;
  }
}
