/**
 * The shape of a `weft.dag/v1` document: plain, versioned JSON describing
 * workflows (static ones with their nodes and edges; flows as dynamic, with
 * what they may call), launch plans and the task table. Only types and the
 * format tag: the IR (`src/ir/`) makes and reads documents; the definition
 * layer, renderers and the CLI only need their shape.
 *
 * @module
 */

/** A JSON Schema (draft 2020-12) object, or `true`/`false`. */
export type JsonSchema = { [key: string]: unknown } | boolean;

/** Declared Deno permissions, per kind: `true` or a list of values. */
export type DagPermissions = { [kind: string]: true | string[] };

/** The format tag of the IR. */
export const DAG_FORMAT = "weft.dag/v1";

/** A reference from a node to the entity it calls. */
export interface DagEntityRef {
  /** The entity kind. */
  kind: "task" | "workflow" | "launchPlan";
  /** Its name in the document's tables. */
  name: string;
}

/** A binding in the IR: the same shape as inside weft, with constants as tagged JSON. */
export type DagBinding =
  | { input: string }
  | { node: string; output: string }
  | { value: unknown }
  | { array: DagBinding[] }
  | { object: { [key: string]: DagBinding } };

/** An input of a workflow in the IR. */
export interface DagInput {
  /** The input name. */
  name: string;
  /** The type as written (`number[]`), or a description (`zod schema`). */
  type: string;
  /** The type as JSON Schema, when it has one. */
  schema?: JsonSchema;
  /** Whether it may be left out. */
  optional: boolean;
  /** The default, as tagged JSON. */
  default?: unknown;
}

/** A node of a static workflow in the IR. */
export interface DagNode {
  /** The node id. */
  id: string;
  /** The entity it calls: a task, a workflow (by name, see `workflows`) or a launch plan. */
  entity: DagEntityRef;
  /** The bindings of its inputs. */
  bindings: { [input: string]: DagBinding };
}

/** An edge: an output (of a node, or a workflow input) feeds an input (of a node, or a workflow output). */
export interface DagEdge {
  /** A node id, or `$inputs` for a workflow input. */
  from: string;
  /** The output name, or the workflow input name. */
  output: string;
  /** A node id, or `$outputs` for a workflow output. */
  to: string;
  /** The input name, or the workflow output name. */
  input: string;
}

/** A workflow in the IR. */
export type DagWorkflow =
  & {
    /** The workflow name. */
    name: string;
    /** Its inputs. */
    inputs: DagInput[];
    /** Where it was defined. */
    source: DagSource | null;
  }
  & (
    | {
      /** A static graph, known before it runs. */
      kind: "static";
      /** Its outputs and their bindings. */
      outputs: { name: string; binding: DagBinding }[];
      /** Its nodes, in a topological order. */
      nodes: DagNode[];
      /** Its edges. */
      edges: DagEdge[];
    }
    | {
      /** A flow: its graph grows at run time. */
      kind: "dynamic";
      /** Its declared output names (`o0` when it returns one value). */
      outputs: { name: string }[];
      /** The entities it may call, as far as can be known. */
      calls: DagEntityRef[];
    }
  );

/** A task in the IR's task table. */
export interface DagTask {
  /** The task name. */
  name: string;
  /** Its inputs. */
  params: { name: string; optional: boolean; default?: unknown }[];
  /** Its output names. */
  outputs: string[];
  /** Retries after a failure. */
  retries: number;
  /** The first retry delay in ms. */
  retryDelayMs: number;
  /** The per-attempt timeout in ms, or null. */
  timeoutMs: number | null;
  /** The per-task concurrency limit, or null. */
  concurrency: number | null;
  /** Whether results are cached. */
  cache: boolean;
  /** The code version, or null. */
  version: string | null;
  /** The declared Deno permissions. */
  permissions: DagPermissions;
  /** Where it was defined. */
  source: DagSource | null;
}

/** A launch plan in the IR. */
export interface DagLaunchPlan {
  /** The launch plan name. */
  name: string;
  /** The entity it launches. */
  entity: DagEntityRef;
  /** Default inputs, as tagged JSON. */
  defaults: { [input: string]: unknown };
  /** Fixed inputs, as tagged JSON. */
  fixed: { [input: string]: unknown };
}

/** A source location in the IR. */
export interface DagSource {
  /** The module, relative to the compiled script's directory when it is local. */
  file: string;
  /** The 1-based line. */
  line: number;
}

/** A `weft.dag/v1` document. */
export interface DagDocument {
  /** Always `weft.dag/v1`. */
  format: typeof DAG_FORMAT;
  /** The workflows and flows, by name. */
  workflows: DagWorkflow[];
  /** The launch plans, by name. */
  launchPlans: DagLaunchPlan[];
  /** The tasks, by name. */
  tasks: DagTask[];
}
