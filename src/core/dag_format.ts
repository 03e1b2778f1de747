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

/**
 * A node of a static workflow in the IR: a call of an entity, or a
 * condition (`ifElse`), which holds its two branches' nodes.
 */
export type DagNode = DagCallNode | DagConditionNode;

/** A node that calls an entity: a task, a workflow or flow, a launch plan (or maps one). */
export interface DagCallNode {
  /** The node id. */
  id: string;
  /** The entity it calls: a task, a workflow (by name, see `workflows`) or a launch plan. */
  entity: DagEntityRef;
  /** The bindings of its inputs. */
  bindings: { [input: string]: DagBinding };
  /** What `entity.with({…})` changed for this call, when it did. */
  overrides?: DagOverrides;
  /** The ids of nodes it starts after, though it takes no value from them (`after`). */
  after?: string[];
  /**
   * A map node (`mapTask`): `entity` runs once per element of the lists its
   * `over` inputs are bound to, and the node's outputs are lists of the
   * results, in order.
   */
  map?: DagMap;
}

/**
 * A condition node (`ifElse`): its bindings are the test's operands (`c0`,
 * `c1`, …); when it runs, the branch its test chooses runs and the other is
 * recorded as skipped; its outputs are the chosen branch's.
 */
export interface DagConditionNode {
  /** The node id. */
  id: string;
  /** The test's operands: workflow inputs, node outputs or constants. */
  bindings: { [operand: string]: DagBinding };
  /** The test and both branches. */
  if: DagIf;
  /** The ids of nodes it starts after, though it takes no value from them (`after`). */
  after?: string[];
}

/** The test and branches of a condition node. */
export interface DagIf {
  /** The test, over the node's operands. */
  test: DagTest;
  /** What runs when the test holds. */
  then: DagBranch;
  /** What runs when it does not (empty when there is no else). */
  else: DagBranch;
  /** The node's output names (`o0`, or the keys both branches give). */
  outputs: string[];
}

/**
 * A condition's test: a comparison of two operands (by name), `and`/`or`
 * of tests, `not` of one, or an operand's truthiness.
 */
export type DagTest =
  | { op: "eq" | "ne" | "gt" | "ge" | "lt" | "le"; args: [string, string] }
  | { op: "and" | "or"; args: DagTest[] }
  | { op: "not"; args: [DagTest] }
  | { op: "truthy"; args: [string] };

/** A branch of a condition node: its nodes (ids unique in the workflow) and the outputs it gives. */
export interface DagBranch {
  /** Its nodes, in a topological order. */
  nodes: DagNode[];
  /** The condition node's outputs when this branch runs. */
  outputs: { name: string; binding: DagBinding }[];
}

/** How a map node runs its entity (see `DagCallNode.map`). */
export interface DagMap {
  /** The inputs bound to lists: one execution per element (zipped). */
  over: string[];
  /** How many executions may run at once, or null. */
  concurrency: number | null;
  /** The share of executions that must succeed (1: all). */
  minSuccessRatio: number;
  /** The node's name when it was given one (else `map_` and the entity's name). */
  name?: string;
  /** For a map of a map: how each execution maps in turn. */
  map?: DagMap;
}

/** Retries as the IR writes them: a count, or `unlimited` (JSON has no Infinity). */
export type DagRetries = number | "unlimited";

/** Per-call overrides of a node (`entity.with({…})`). */
export interface DagOverrides {
  /** The name the node was given (its id, or its id without a `_2`… suffix). */
  name?: string;
  /** Retries after a failure. */
  retries?: DagRetries;
  /** A task attempt's timeout, or a workflow's or flow's whole timeout, in ms. */
  timeoutMs?: number;
  /** Whether results are cached. */
  cache?: boolean;
  /** The queue the call is placed on. */
  queue?: string;
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
    /** What runs with `{ error, inputs }` when it fails, if anything does. */
    onFailure?: DagEntityRef;
    /**
     * How failures end it: `fail-fast` stops what still runs at the first
     * failure nothing handles; `finish-running` lets it finish first.
     * (Absent in older documents: `finish-running` for static workflows,
     * `fail-fast` for flows.)
     */
    failurePolicy?: "fail-fast" | "finish-running";
    /** How long the whole workflow or flow may run, in ms, when limited. */
    timeoutMs?: number;
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
      /** The entities it may call, as far as can be known (see `callsFrom`). */
      calls: DagEntityRef[];
      /**
       * Where `calls` comes from: `tasks`, the flow's `tasks:` option;
       * `skeleton`, exactly what its skeleton calls; `module`, what its
       * skeleton calls plus every task of its module (the skeleton has an
       * unknown call, or was not extracted). Absent from documents written
       * before skeletons.
       */
      callsFrom?: "tasks" | "skeleton" | "module";
      /**
       * The flow's static skeleton, read from its source without running it:
       * its calls, loops, branches, try blocks and waits, in source order.
       * Absent when it was not extracted (the library's synchronous `toDag`).
       */
      skeleton?: SkeletonZone[];
    }
  );

/**
 * A zone of a flow's skeleton. Every zone has the 1-based `line` of the
 * flow's module where it starts; conditions are source text.
 */
export type SkeletonZone =
  | SkeletonCall
  | SkeletonLoop
  | SkeletonBranch
  | SkeletonSwitch
  | SkeletonTry
  | SkeletonWait
  | SkeletonExit
  | SkeletonHelper
  | SkeletonUnknown;

/** A call of a task, workflow, flow or launch plan: at run time, a node. */
export interface SkeletonCall {
  /** Always `call`. */
  kind: "call";
  /** What it calls (a flow is a `workflow`, with its own skeleton). */
  entity: DagEntityRef;
  /** A key unique in the skeleton (`c1`, `c2`…), for data edges. */
  id: string;
  /**
   * The calls whose handles reach its arguments (through variables too): its
   * data edges. A call later in a loop's body is a value carried round the loop.
   */
  from: string[];
  /** The source line. */
  line: number;
}

/** A loop: `while`, `do … while`, `for`, `for…of`, `for…in`, or `each` (a callback of `map`, `forEach`…). */
export interface SkeletonLoop {
  /** Always `loop`. */
  kind: "loop";
  /** Which loop. */
  loop: "while" | "do" | "for" | "for-of" | "for-in" | "each";
  /**
   * The loop's header as source text: the condition of `while` and `do`,
   * what is inside `for (…)`, the call of an `each` (`lines.map`).
   */
  condition: string;
  /** The calls and waits of the condition, evaluated before each round (a `for`'s update after it). */
  test: SkeletonZone[];
  /** The calls whose handles its condition waits on. */
  waits: string[];
  /** Variables assigned in the body and read again in a later round (values carried round the loop). */
  carries: string[];
  /** The body. */
  body: SkeletonZone[];
  /** Its label, when it has one (what a labelled `break` or `continue` names). */
  label?: string;
  /** The source line. */
  line: number;
}

/** An `if`/`else`, a `cond ? a : b`, or a `&&`, `||`, `??` whose right side calls. */
export interface SkeletonBranch {
  /** Always `branch`. */
  kind: "branch";
  /** The condition as source text. */
  condition: string;
  /** The calls whose handles the condition waits on. */
  waits: string[];
  /** When the condition holds. */
  then: SkeletonZone[];
  /** Otherwise (empty when there is no `else`). */
  else: SkeletonZone[];
  /** The source line. */
  line: number;
}

/** A `switch`. */
export interface SkeletonSwitch {
  /** Always `switch`. */
  kind: "switch";
  /** The value switched on, as source text. */
  condition: string;
  /** The calls whose handles the value waits on. */
  waits: string[];
  /** The cases in order: `test` is null for `default`; a case without `break` falls through. */
  cases: { test: string | null; body: SkeletonZone[]; fallsThrough: boolean }[];
  /** The source line. */
  line: number;
}

/** A `try` with its `catch` and `finally`. */
export interface SkeletonTry {
  /** Always `try`. */
  kind: "try";
  /** The guarded block. */
  body: SkeletonZone[];
  /** The `catch` block, when there is one. */
  catch?: SkeletonZone[];
  /** The `finally` block, when there is one. */
  finally?: SkeletonZone[];
  /** The source line. */
  line: number;
}

/** An await point: `yield* wait(h)`, `all`, `race`, `sleep`, `signal`, a plain `yield h`, or `await h`. */
export interface SkeletonWait {
  /** Always `wait`. */
  kind: "wait";
  /** How it waits. */
  mode: "wait" | "all" | "race" | "sleep" | "signal" | "yield" | "await";
  /** The calls whose handles it waits on. */
  on: string[];
  /** The source line. */
  line: number;
}

/** Leaving a block early: `return`, `break`, `continue` or `throw`. */
export interface SkeletonExit {
  /** Always `exit`. */
  kind: "exit";
  /** Which. */
  exit: "return" | "break" | "continue" | "throw";
  /** The label of a labelled `break` or `continue`. */
  label?: string;
  /** The calls whose handles a `return` returns (the flow's outputs). */
  from: string[];
  /** The source line. */
  line: number;
}

/** A call of a helper function of the flow's module, followed into its body. */
export interface SkeletonHelper {
  /** Always `helper`. */
  kind: "helper";
  /** The helper's name. */
  name: string;
  /** Its body's zones, as called here. */
  body: SkeletonZone[];
  /** The source line of the call. */
  line: number;
}

/** Something that cannot be known without running the flow: the calls it makes may be anything. */
export interface SkeletonUnknown {
  /** Always `unknown`. */
  kind: "unknown";
  /** The source text that cannot be known (shortened to 120 characters). */
  source: string;
  /** Why it cannot be known. */
  reason: string;
  /** The source line. */
  line: number;
}

/** A task in the IR's task table. */
export interface DagTask {
  /** The task name. */
  name: string;
  /** Its inputs. */
  params: { name: string; optional: boolean; default?: unknown }[];
  /** Its output names. */
  outputs: string[];
  /** Retries after a failure, or `unlimited` (until it succeeds or `retryDeadlineMs` passes). */
  retries: DagRetries;
  /** The first retry delay in ms (0: at once). */
  retryDelayMs: number;
  /** How much longer each retry waits than the one before (absent in older documents: 2). */
  backoff?: number;
  /** The longest retry delay in ms (absent in older documents: 30000). */
  maxRetryDelayMs?: number;
  /** The most jitter adds to a delay, as a fraction of it (absent in older documents: 0.1). */
  jitter?: number;
  /** How long after its first attempt a retry may still start, in ms, or null. */
  retryDeadlineMs?: number | null;
  /** Whether a `retryIf` predicate decides which errors are retried (code: not in the document). */
  retryIf?: boolean;
  /** The names of the error classes never retried. */
  nonRetryable?: string[];
  /** The per-attempt timeout in ms, or null. */
  timeoutMs: number | null;
  /** The per-task concurrency limit, or null. */
  concurrency: number | null;
  /** Whether results are cached. */
  cache: boolean;
  /** Inputs left out of the cache key. */
  cacheIgnore?: string[];
  /** The queue its calls are placed on, or null for the default queue. */
  queue?: string | null;
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
  /** When `weft serve` starts it by itself; absent when it is not scheduled. */
  schedule?: DagSchedule;
}

/** The schedule of a launch plan. */
export interface DagSchedule {
  /** A cron expression, or null for an interval. */
  cron: string | null;
  /** The IANA time zone of the cron expression. */
  timezone: string;
  /** The interval in ms, or null for a cron expression. */
  everyMs: number | null;
  /** What a fire does while an earlier run is unfinished. */
  overlap: "skip" | "queue" | "allow";
  /** How many missed fires run late. */
  catchUp: number;
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
