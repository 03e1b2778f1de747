/**
 * Bodies: what runs an entity's body — a frame per workflow, flow or root
 * task, attached to the node it runs (or as the run's root) — and the check
 * of a workflow's inputs against their types.
 *
 * @module
 */

import { ValidationError, type WeftError } from "../core/errors.ts";
import type { EntityDef, GraphDef } from "../define/defs.ts";
import { checkInputNames } from "../define/entity.ts";
import { withOverrides } from "../define/overrides.ts";
import { cancelledError } from "./failures.ts";
import { FlowFrame, type FlowRun } from "./flow_frame.ts";
import { type Frame, TaskFrame } from "./frames.ts";
import { StaticFrame } from "./static_frame.ts";
import { MapFrame } from "./map_frame.ts";
import { ConditionFrame } from "./branch_frame.ts";
import { isFinal, type Node } from "./node.ts";

/** Starts the frame that runs `def` with `inputs`; `done` receives its value. */
export async function startBody(
  run: FlowRun,
  node: Node | undefined,
  def: EntityDef,
  inputs: Record<string, unknown>,
  done: (value: unknown, error: WeftError | undefined, causes?: WeftError[]) => void,
  checked = false,
): Promise<void> {
  switch (def.kind) {
    case "task":
      return attach(run, node, new TaskFrame(run, node, done)).start(def, inputs);
    case "workflow": {
      const values = checked ? inputs : await checkGraphInputs(def, inputs, node?.id);
      return attach(run, node, new StaticFrame(run, node, done)).start(def, values);
    }
    case "flow":
      return attach(run, node, new FlowFrame(run, node, done)).start(def, inputs);
    case "launchPlan": {
      // A launch plan called through .with({ timeout }) gives its target that timeout.
      const timeout = def.call?.overrides.timeoutMs;
      const target = timeout === undefined ? def.target : withOverrides(def.target, { timeout });
      return startBody(run, node, target, def.merge(inputs), done);
    }
    case "map":
      return attach(run, node, new MapFrame(run, node, done)).start(def, inputs);
    case "condition":
      return attach(run, node, new ConditionFrame(run, node, done)).start(def, inputs);
  }
}

/** Attaches a body's frame to its node (or makes it the run's root), cancelled if that is; returns it. */
function attach<F extends Frame>(run: FlowRun, node: Node | undefined, frame: F): F {
  if (node === undefined) run.root = frame;
  else node.child = frame;
  // A body started inside `nonCancellable` is not stopped by the cancellation it outlives.
  if (node !== undefined && isFinal(node.status)) {
    frame.cancel(node.error ?? cancelledError(run.id));
  } else if (frame.shielded) return frame;
  else if (run.cancelled) frame.cancel(run.cancelReason ?? cancelledError(run.id));
  else if (node !== undefined && node.frame.cancelled) {
    frame.cancel(node.frame.cancelReason ?? cancelledError(run.id));
  }
  return frame;
}

/**
 * Checks workflow inputs against their types and fills defaults.
 *
 * @param graph The workflow.
 * @param inputs The inputs by name.
 * @param nodeId The node running it, for messages.
 * @returns The checked inputs (a Standard Schema may transform values).
 */
export async function checkGraphInputs(
  graph: GraphDef,
  inputs: Record<string, unknown>,
  nodeId?: string,
): Promise<Record<string, unknown>> {
  graph.validate();
  const where = nodeId === undefined
    ? `workflow '${graph.name}'`
    : `node '${nodeId}' (workflow '${graph.name}')`;
  checkInputNames(graph, inputs, where);
  const out: Record<string, unknown> = {};
  for (const input of graph.inputs.values()) {
    if (!(input.name in inputs)) {
      out[input.name] = "default" in input ? input.default : undefined;
      continue;
    }
    try {
      out[input.name] = await input.type.check(inputs[input.name], input.name);
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(`${where}: ${e.message}`);
      throw e;
    }
  }
  return out;
}
