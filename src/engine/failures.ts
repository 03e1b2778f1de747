/**
 * Failures as the engine reports them: a task's error wrapped with its node
 * and attempt, Deno's refusals turned into `PermissionDeniedError` naming the
 * declaration to add, a workflow or flow failing because a child did, and
 * cancellation.
 *
 * @module
 */

import {
  CancelledError,
  describeCause,
  NonDeterminismError,
  PermissionDeniedError,
  TaskFailedError,
  WeftError,
  type WeftErrorJson,
} from "../core/errors.ts";
import type { EntityDef } from "../define/defs.ts";
import { describeEntity } from "../define/entity.ts";
import type { Node } from "./node.ts";

/**
 * Whether a flow saw this error as the failure of something it waited for.
 *
 * @param e The error.
 * @returns True for task failures and cancellations.
 */
export function isFlowFailure(e: WeftError): boolean {
  return e instanceof TaskFailedError || e instanceof CancelledError;
}

/**
 * The root causes behind an error: the causes its node recorded, or itself.
 *
 * @param nodes The run's nodes by id.
 * @param error The error.
 * @returns The causes.
 */
export function rootCauses(nodes: ReadonlyMap<string, Node>, error: WeftError): WeftError[] {
  if (error.nodeId !== undefined) {
    const node = nodes.get(error.nodeId);
    if (node?.causes !== undefined && node.error === error) return [...node.causes];
  }
  return [error];
}

/**
 * The error of a workflow or flow node whose children failed.
 *
 * @param node The workflow or flow node (undefined for the run's root).
 * @param causes The children's failures.
 * @returns The error: the first cause itself at the root.
 */
export function frameError(node: Node | undefined, causes: WeftError[]): WeftError {
  const first = causes[0]!;
  if (node === undefined) return first;
  const more = causes.length > 1 ? ` (and ${causes.length - 1} more)` : "";
  return new TaskFailedError(
    `${describeEntity(node.def)} (node '${node.id}') failed because ${
      first.nodeId ? `node '${first.nodeId}'` : "a node"
    } failed${more}: ${first.message}`,
    { nodeId: node.id, task: node.def.name, cause: first },
  );
}

/**
 * What a workflow or flow body threw, as a `WeftError`.
 *
 * @param e What was thrown.
 * @param node The workflow or flow node (undefined for the run's root).
 * @param rootName The root entity's name.
 * @returns The error.
 */
export function asWeftError(e: unknown, node: Node | undefined, rootName: string): WeftError {
  if (e instanceof WeftError) return e;
  const name = node?.def.name ?? rootName;
  const denied = refusal(e);
  if (denied !== undefined) {
    // A workflow's or flow's body is control code: `weft run` runs it with no
    // permissions (and a replay runs it again), so its I/O belongs in a task.
    const what = node ? describeEntity(node.def) : `'${name}'`;
    const kind = node?.def.kind === "flow" || node === undefined ? "flow" : "workflow";
    return new PermissionDeniedError(
      `${what} was refused ${denied.kind} access to "${denied.value}" in its own code: workflow and flow bodies are control code and run with no permissions; move the ${denied.kind} into a task that declares permissions: { ${denied.kind}: [${
        JSON.stringify(denied.value)
      }] } and call the task from the ${kind}`,
      {
        kind: denied.kind,
        value: denied.value,
        nodeId: node?.id ?? name,
        task: name,
        cause: denied.error,
      },
    );
  }
  return new TaskFailedError(
    `${node ? describeEntity(node.def) : `'${name}'`} failed: ${describeCause(e).message}`,
    { nodeId: node?.id ?? name, task: name, cause: e },
  );
}

/**
 * The error of a cancelled run.
 *
 * @param runId The run id.
 * @returns The error, saying how to resume.
 */
export function cancelledError(runId: string): CancelledError {
  return new CancelledError(
    `Run '${runId}' was cancelled; run it again with the same run id to resume`,
  );
}

/**
 * What a task attempt threw, as a `WeftError` naming the node.
 *
 * @param node The node.
 * @param e What was thrown.
 * @param why Why it was not retried, when that needs saying (`; its retryDeadline …`).
 * @returns The error.
 */
export function asTaskError(node: Node, e: unknown, why = ""): WeftError {
  if (
    e instanceof TaskFailedError || e instanceof NonDeterminismError ||
    e instanceof PermissionDeniedError || e instanceof CancelledError
  ) return e;
  const c = describeCause(e);
  return new TaskFailedError(
    `${describeEntity(node.def)} (node '${node.id}') failed${
      node.attempt > 1 ? ` after ${node.attempt} attempts` : ""
    }${why}: ${c.message}`,
    { nodeId: node.id, task: node.def.name, attempt: node.attempt, cause: e },
  );
}

/**
 * An error as an event carries it.
 *
 * @param e The error.
 * @returns Its JSON.
 */
export function describeError(e: unknown): WeftErrorJson {
  if (e instanceof WeftError) return e.toJSON();
  const c = describeCause(e);
  return { name: c.name, message: c.message };
}

/**
 * The error of a task that declares permissions the run was not granted:
 * `weft run` grants the tasks its plan lists (what the skeletons of the
 * entity's flows call, or a flow's `tasks:` option), and this one is not
 * among them.
 *
 * @param node The task's node.
 * @param rootName The run's entity (the caller when a root flow called the task).
 * @returns The error, or undefined when the task declares nothing (it needs no grant).
 */
export function notGranted(node: Node, rootName: string): PermissionDeniedError | undefined {
  const declared = node.def.kind === "task" ? node.def.permissions : undefined;
  const kinds = declared === undefined
    ? []
    : Object.keys(declared).filter((k) => declared[k as keyof typeof declared] !== undefined);
  if (kinds.length === 0) return undefined;
  const by = node.frame.node?.def.name ?? rootName;
  return new PermissionDeniedError(
    `Task '${node.def.name}' (node '${node.id}') declares ${
      kinds.join(", ")
    } permissions, but this run was not granted them: weft run grants the tasks its plan lists (what the skeletons of the flows call, or a flow's tasks: option), and '${by}' called '${node.def.name}', which is not one of them; add it to the tasks: option of the flow that calls it (or remove that option)`,
    {
      kind: kinds[0]!,
      value: node.def.name,
      nodeId: node.id,
      task: node.def.name,
      attempt: node.attempt,
    },
  );
}

const DENIED = /Requires (\w+) access to "([^"]*)"/;

/**
 * Deno's refusal of a permission, if `e` (or one of its causes) is one, as a
 * `PermissionDeniedError` naming the task and the declaration to add.
 *
 * @param node The node whose attempt failed.
 * @param e What it threw.
 * @returns The error, or undefined when `e` is no refusal.
 */
export function permissionDenied(node: Node, e: unknown): PermissionDeniedError | undefined {
  const denied = refusal(e);
  if (denied === undefined) return undefined;
  const { kind, value } = denied;
  return new PermissionDeniedError(
    `Task '${node.def.name}' (node '${node.id}') was refused ${kind} access to "${value}", which it does not declare; add permissions: { ${kind}: [${
      JSON.stringify(value)
    }] } to the task`,
    {
      kind,
      value,
      nodeId: node.id,
      task: node.def.name,
      attempt: node.attempt,
      cause: denied.error,
    },
  );
}

/** Deno's refusal in `e` (or one of its causes): the kind and what was refused. */
function refusal(e: unknown): { kind: string; value: string; error: unknown } | undefined {
  const notCapable = (globalThis as { Deno?: { errors?: { NotCapable?: unknown } } }).Deno?.errors
    ?.NotCapable;
  let err: unknown = e;
  // The refusal may be wrapped as the cause of another error.
  for (let i = 0; i < 4 && err !== undefined && err !== null; i++) {
    const message = (err as { message?: unknown }).message;
    const m = typeof message === "string" ? DENIED.exec(message) : null;
    if (
      m !== null &&
      (typeof notCapable !== "function" || err instanceof (notCapable as new () => Error) ||
        (err as Error).name === "NotCapable" || (err as Error).name === "TypeError")
    ) {
      return { kind: m[1]!, value: m[2]!, error: err };
    }
    err = (err as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The error of a run whose root failed before any node did.
 *
 * @param def The root entity.
 * @param e What was thrown.
 * @returns The error.
 */
export function asTaskErrorRoot(def: EntityDef, e: unknown): WeftError {
  return new TaskFailedError(`${describeEntity(def)} failed: ${describeCause(e).message}`, {
    nodeId: def.name,
    task: def.name,
    cause: e,
  });
}
