/**
 * weft: a Deno-first workflow engine with a TypeScript DSL.
 *
 * Write tasks as plain functions, wire them into a declarative `workflow`, a
 * `Workflow` built by code, or an imperative `flow` whose graph grows while
 * plain TypeScript runs; inspect the graph before anything runs; run it with
 * retries, timeouts, concurrency limits, caching and a record of every step.
 *
 * @example Three ways to write a workflow, one engine
 * ```ts
 * import { flow, run, task, wait, workflow } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const add = task(function add(x: number, y: number) { return x + y; });
 * const multiply = task(function multiply(x: number, y: number) { return x * y; });
 *
 * // declarative: traced once, the graph exists before anything runs
 * const addMultiply = workflow(function addMultiply(x: number, y: number, z: number) {
 *   return multiply(add(x, y), z);
 * });
 * assert.equal(await addMultiply(3, 4, 2), 14);
 * assert.equal(addMultiply.graph.workflows[0]!.kind, "static");
 *
 * // imperative flow: loops and branches on values, yields mark await points
 * const keepDoubling = flow(async function* keepDoubling(x: number, y: number) {
 *   let out = add(x, y);
 *   while ((yield* wait(out)) < 10) out = multiply(add(out, 1), 2);
 *   return { sum: out };
 * });
 * const result = await run(keepDoubling, { x: 3, y: 4 });
 * assert.deepEqual(result.outputs, { sum: 16 });
 * ```
 *
 * This module is the face for authoring and running. Store authors, the
 * IR and the SQLite store have faces of their own: `@weft/weft/store`,
 * `@weft/weft/ir`, `@weft/weft/sqlite` (files `store.ts`, `ir.ts`,
 * `sqlite.ts` beside this one), and the command line `@weft/weft/cli`.
 *
 * @module
 */

// Registers the IR's describer, which gives workflows their `.graph`.
import "./src/ir/mod.ts";

export { task } from "./src/define/task.ts";
export type {
  AnyFunction,
  Input,
  Inputs,
  Task,
  TaskCallOptions,
  TaskContext,
  TaskOptions,
  TaskParams,
} from "./src/define/task.ts";
export type { WorkflowCallOptions } from "./src/define/overrides.ts";
export type { RetryOptions } from "./src/define/retry_policy.ts";
export type { ErrorClass } from "./src/define/defs.ts";
export { workflow } from "./src/define/workflow.ts";
export type { DeclarativeWorkflow, WorkflowOptions } from "./src/define/workflow.ts";
export { Workflow } from "./src/define/builder.ts";
export type { AddEntityOptions, AddInputOptions, WorkflowInputs } from "./src/define/builder.ts";
export { workflowFromSpec } from "./src/define/spec_build.ts";
export type { SpecModules, WorkflowFromSpecOptions } from "./src/define/spec_build.ts";
export { flow } from "./src/define/flow.ts";
export type { AnyGeneratorFunction, Flow, FlowOptions, FlowResult } from "./src/define/flow.ts";
export { launchPlan } from "./src/define/launch_plan.ts";
export type { LaunchPlan, LaunchPlanOptions } from "./src/define/launch_plan.ts";
export type { OverlapPolicy, ScheduleOptions, ScheduleSpec } from "./src/define/schedule.ts";
export { all, nonCancellable, race, wait } from "./src/define/yields.ts";
export { after } from "./src/define/ordering.ts";
export { mapTask } from "./src/define/map.ts";
export type { ControlOptions } from "./src/define/control.ts";
export type { FailurePolicy } from "./src/define/defs.ts";
export { and, eq, ge, gt, ifElse, le, lt, ne, not, or } from "./src/define/conditions.ts";
export type {
  Compare,
  Comparison,
  Condition,
  IfElseOptions,
  Operand,
} from "./src/define/conditions.ts";
export type { MappedResults, MapTask, MapTaskOptions } from "./src/define/map.ts";
export { signal, sleep, sleepUntil, WaitHandle } from "./src/define/time.ts";
export type { SignalOptions } from "./src/define/time.ts";
export type { AwaitRequest, Resolved } from "./src/define/yields.ts";
export { now, random } from "./src/define/deterministic.ts";
export { Handle, isHandle } from "./src/define/handle.ts";
export type { Outputs } from "./src/define/handle.ts";
export { queryRun, run, sendSignal } from "./src/engine/mod.ts";
export type { QueryRunOptions, SendSignalOptions } from "./src/engine/mod.ts";
export { publish } from "./src/define/publish.ts";
export { serve } from "./src/engine/serve.ts";
export type { Launcher, ScheduledPlan, ServeEvent, ServeOptions } from "./src/engine/serve.ts";
export type {
  RunGraph,
  RunGraphEdge,
  RunGraphNode,
  RunOptions,
  RunResult,
  TaskMock,
} from "./src/engine/types.ts";
export {
  CancelledError,
  NonDeterminismError,
  PermissionDeniedError,
  RunOwnedError,
  TaskFailedError,
  TimeoutError,
  ValidationError,
  WeftError,
} from "./src/core/errors.ts";
export type { WeftErrorJson, WeftErrorOptions } from "./src/core/errors.ts";
export type { EventBase, NodeEventBase, WeftEvent, WeftEventType } from "./src/engine/events.ts";
export type { Duration } from "./src/core/duration.ts";
export type {
  JsonSchema,
  StandardResult,
  StandardSchemaV1,
  TypeSpec,
} from "./src/define/input_types.ts";
export { PERMISSION_KINDS } from "./src/define/permissions.ts";
export type { PermissionKind, Permissions } from "./src/define/permissions.ts";
export type { EntityKind, WaitKind } from "./src/define/defs.ts";
export type { NodeStatus, RunStatus, Store } from "./src/store/mod.ts";
export type { DagDocument } from "./src/core/dag_format.ts";
