/**
 * weft's IR, `weft.dag/v1`: describe entities as a versioned JSON document
 * (`toDag`), check a document (`validateDag`, `DAG_SCHEMA`), load one back
 * bound to a script's tasks (`fromDag`), and render it as YAML, Graphviz DOT,
 * Mermaid or a self-contained HTML page (`renderDag`).
 *
 * @example Describe a workflow without running it
 * ```ts
 * import { task, Workflow } from "@weft/weft";
 * import { renderDag, toDag } from "@weft/weft/ir";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const wf = new Workflow("twice");
 * const x = wf.addInput("x", "number");
 * wf.addOutput("y", wf.addEntity(inc, { x: wf.addEntity(inc, { x }) }));
 * const dag = toDag([wf]);
 * assert.equal(dag.format, "weft.dag/v1");
 * assert.match(await renderDag(dag, "mermaid"), /flowchart/);
 * ```
 *
 * @module
 */

export {
  callNodes,
  DAG_FORMAT,
  everyNode,
  isConditionNode,
  reachableTasks,
  subDocument,
  toDag,
} from "./src/ir/mod.ts";
export type {
  DagBinding,
  DagBranch,
  DagCallNode,
  DagConditionNode,
  DagDocument,
  DagEdge,
  DagEntityRef,
  DagIf,
  DagInput,
  DagLaunchPlan,
  DagMap,
  DagNode,
  DagOverrides,
  DagPermissions,
  DagRetries,
  DagSchedule,
  DagSource,
  DagTask,
  DagTest,
  DagWorkflow,
  JsonSchema,
  SkeletonBranch,
  SkeletonCall,
  SkeletonExit,
  SkeletonHelper,
  SkeletonLoop,
  SkeletonSwitch,
  SkeletonTry,
  SkeletonUnknown,
  SkeletonWait,
  SkeletonZone,
  ToDagOptions,
} from "./src/ir/mod.ts";
export { DAG_SCHEMA, DAG_SCHEMA_ID } from "./src/ir/schema.ts";
export type { DagJsonSchema } from "./src/ir/schema.ts";
export { fromDag } from "./src/ir/read.ts";
export { validateDag } from "./src/ir/validate.ts";
export type { DagEntities, FromDagOptions } from "./src/ir/read.ts";
export { DAG_FORMATS, renderDag } from "./src/render/mod.ts";
export type { DagFormat, RenderOptions } from "./src/render/mod.ts";
