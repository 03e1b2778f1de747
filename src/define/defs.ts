/**
 * The definitions behind tasks, flows, workflows and launch plans: what the
 * engine runs and the IR describes. `EntityDef` is a union discriminated by
 * `kind`, so that code reading a definition narrows it instead of casting.
 *
 * The constructors (`task`, `flow`, `workflow`, `Workflow`, `launchPlan`)
 * make these; nothing outside `define/` builds one.
 *
 * @module
 */

import type { InputType } from "./input_types.ts";
import type { ScheduleSpec } from "./schedule.ts";
import type { Param } from "./params.ts";
import type { Permissions } from "./permissions.ts";

/**
 * The kinds of entity: the four a user defines by name; `map`, which runs
 * another entity once per element of a list (`mapTask`); and `condition`,
 * the node `ifElse` adds to a static graph.
 */
export type EntityKind = "task" | "workflow" | "flow" | "launchPlan" | "map" | "condition";

/** The kinds of durable wait a flow makes: a timer, or a signal from outside. */
export type WaitKind = "sleep" | "signal";

/** Where an entity was defined. */
export interface SourceLocation {
  /** The module URL or path. */
  file: string;
  /** The 1-based line. */
  line: number;
}

/** What every entity has: a name, inputs and outputs; it can be a node of a graph. */
export interface EntityBase {
  /** Which kind of entity this is. */
  readonly kind: EntityKind | WaitKind;
  /** The name: node ids, cache keys and the IR use it. */
  readonly name: string;
  /** The inputs, in positional order. */
  readonly params: readonly Param[];
  /** The output names. */
  readonly outputs: readonly string[];
  /**
   * Whether a node's whole value is its single output (a task without named
   * outputs, a workflow with one output); else the whole value is an object
   * keyed by output name.
   */
  readonly bare: boolean;
  /** How a direct call passes inputs: as arguments, or as one object. */
  readonly callStyle: "positional" | "object";
  /** Where the entity was defined, when known. */
  readonly source: SourceLocation | undefined;
  /**
   * For the entity `entity.with({…})` returns: the entity it overrides and
   * what changes for the calls made through it. Absent on entities as defined.
   */
  readonly call?: CallOverride;
}

/** What `entity.with({…})` changes for the calls made through it (Flyte's `with_overrides`). */
export interface CallOverrides {
  /** The node id to use instead of the entity's name (`name`, then `name_2`…). */
  readonly name?: string;
  /** Retries after a failure (tasks). */
  readonly retries?: number;
  /** A task attempt's timeout, or a workflow's or flow's whole timeout, in ms. */
  readonly timeoutMs?: number;
  /** Whether results are cached (tasks). */
  readonly cache?: boolean;
  /** The queue the call is placed on, for workers (tasks). */
  readonly queue?: string;
}

/** The entity behind an overridden one, and the overrides. */
export interface CallOverride {
  /** The entity as defined (never itself an overridden one). */
  readonly base: EntityDef;
  /** What changes. */
  readonly overrides: CallOverrides;
}

/** An error class, for `nonRetryable`. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/** A task: a function the engine calls, with its retry, timeout, cache and permission options. */
export interface TaskDef extends EntityBase {
  /** Always `"task"`. */
  readonly kind: "task";
  /** The user's function. */
  readonly fn: (...args: never[]) => unknown;
  /** How inputs are passed to `fn`. */
  readonly style: "positional" | "object";
  /** Retries after a failure (`Infinity`: until it succeeds or `retryDeadlineMs` passes). */
  readonly retries: number;
  /** The first retry delay in ms (0: at once). */
  readonly retryDelayMs: number;
  /** How much longer each retry waits than the one before. */
  readonly backoff: number;
  /** The longest retry delay in ms. */
  readonly maxRetryDelayMs: number;
  /** The most jitter adds to a delay, as a fraction of it (it never subtracts). */
  readonly jitter: number;
  /** How long after its first attempt started a retry may still start, in ms, if limited. */
  readonly retryDeadlineMs: number | undefined;
  /** Whether an error may be retried, when the task says. */
  readonly retryIf: ((error: unknown) => boolean) | undefined;
  /** Error classes that are never retried. */
  readonly nonRetryable: readonly ErrorClass[];
  /** The per-attempt timeout in ms, if any. */
  readonly timeoutMs: number | undefined;
  /** The per-task concurrency limit, if any. */
  readonly concurrency: number | undefined;
  /** Whether results are cached. */
  readonly cache: boolean;
  /** Inputs left out of the cache key. */
  readonly cacheIgnore: readonly string[];
  /** The queue its calls are placed on, for workers; undefined: the default queue. */
  readonly queue: string | undefined;
  /** The code version. */
  readonly version: string | undefined;
  /** The declared permissions. */
  readonly permissions: Permissions;
  /** Whether `outputs` was given (the return value is an object or array of outputs). */
  readonly namedOutputs: boolean;
}

/** A flow: an async generator function whose calls become nodes while it runs. */
export interface FlowDef extends EntityBase {
  /** Always `"flow"`. */
  readonly kind: "flow";
  /** The async generator function. */
  readonly fn: (...args: never[]) => AsyncGenerator<unknown, unknown, unknown>;
  /** How inputs are passed to `fn`. */
  readonly style: "positional" | "object";
  /** Whether `outputs` was declared. */
  readonly namedOutputs: boolean;
  /** The entities the flow declares it calls, if it does. */
  readonly tasks: readonly EntityDef[] | undefined;
  /** What runs when the flow fails, and how failures end it; its whole timeout. */
  readonly control: RunControl;
}

/**
 * What happens when a workflow or flow fails or takes too long: Flyte's
 * `on_failure` and failure policies, a whole-run timeout (distinct from a
 * task attempt's).
 */
export interface RunControl {
  /** Runs with `{ error, inputs }` when the workflow or flow fails, if it has one. */
  readonly onFailure: EntityDef | undefined;
  /**
   * `fail-fast`: the first failure nothing handles stops what still runs;
   * `finish-running`: what runs (and what does not depend on the failure) finishes first.
   */
  readonly failurePolicy: FailurePolicy;
  /** How long the whole workflow or flow may run, in ms, if limited. */
  readonly timeoutMs: number | undefined;
}

/** How a workflow or flow ends when a node fails. */
export type FailurePolicy = "fail-fast" | "finish-running";

/**
 * How a node input or workflow output gets its value: a workflow input, a
 * node output, a constant, or an array or object of bindings.
 */
export type Binding =
  | { readonly input: string }
  | { readonly node: string; readonly output: string }
  | { readonly value: unknown }
  | { readonly array: readonly Binding[] }
  | { readonly object: { readonly [key: string]: Binding } };

/** An input of a static graph. */
export interface GraphInput {
  /** The input name. */
  readonly name: string;
  /** The declared type. */
  readonly type: InputType;
  /** Whether it may be left out. */
  readonly optional: boolean;
  /** The default, when it has one. */
  readonly default?: unknown;
}

/** A node of a static graph. */
export interface GraphNode {
  /** The node id: the entity name, then `name_2`, `name_3`… */
  readonly id: string;
  /** The entity the node calls. */
  readonly def: EntityDef;
  /** The bindings of its inputs. */
  readonly bindings: Readonly<Record<string, Binding>>;
  /** Its position in the list that holds it: the graph's `nodes`, or a branch's. */
  readonly index: number;
  /** The ids of nodes it starts after, though no value passes (`after`), when there are any. */
  readonly after?: readonly string[];
}

/** A static workflow (declarative or built): inputs, nodes in a topological order, outputs. */
export interface GraphDef extends EntityBase {
  /** Always `"workflow"`. */
  readonly kind: "workflow";
  /** Whether it came from a declarative `workflow(fn)`. */
  readonly declarative: boolean;
  /** The inputs, in order. */
  readonly inputs: ReadonlyMap<string, GraphInput>;
  /** The nodes, in the order added (a topological order). */
  readonly nodes: readonly GraphNode[];
  /** The nodes by id. */
  readonly nodeIndex: ReadonlyMap<string, GraphNode>;
  /**
   * The nodes of the graph (or of one of its branches) in an order where
   * each comes after those it takes values from and those it runs after: the
   * list itself unless an ordering edge points forward.
   *
   * @param nodes A branch's nodes; the graph's own by default.
   */
  topological(nodes?: readonly GraphNode[]): readonly GraphNode[];
  /** The outputs, in order. */
  readonly outputBindings: ReadonlyMap<string, Binding>;
  /** What runs when the workflow fails, and how failures end it; its whole timeout. */
  readonly control: RunControl;
  /**
   * Checks what can only be checked once the graph is complete (every input is used).
   *
   * @throws {ValidationError} Naming what is wrong.
   */
  validate(): void;
}

/** A launch plan: an entity with some inputs defaulted and some fixed, under a name of its own. */
export interface LaunchPlanDef extends EntityBase {
  /** Always `"launchPlan"`. */
  readonly kind: "launchPlan";
  /** The entity it launches. */
  readonly target: EntityDef;
  /** Default inputs. */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Fixed inputs. */
  readonly fixed: Readonly<Record<string, unknown>>;
  /** When `weft serve` starts it by itself, if it is scheduled. */
  readonly schedule: ScheduleSpec | undefined;
  /**
   * The inputs to launch the target with: defaults, then the call's, then fixed ones.
   *
   * @param inputs What the call passed.
   * @returns The merged inputs.
   * @throws {ValidationError} When the call passes a fixed input.
   */
  merge(inputs: Record<string, unknown>): Record<string, unknown>;
}

/**
 * `mapTask(entity)`: runs `target` once per element of the lists given to
 * its `over` inputs, and gives the results in order. One node, however long
 * the list: it expands into one execution per element only when it runs.
 */
export interface MapDef extends EntityBase {
  /** Always `"map"`. */
  readonly kind: "map";
  /** What runs for each element: a task, workflow, flow, launch plan (or another map). */
  readonly target: EntityDef;
  /** The inputs that take lists, one element per execution; the others go to every execution. */
  readonly over: readonly string[];
  /** How many executions may run at once, if limited (the run's limit applies too). */
  readonly concurrency: number | undefined;
  /**
   * The share of executions that must succeed (1: all or nothing). Below it
   * the map fails; above it, failed elements are `null` in the results.
   */
  readonly minSuccessRatio: number;
}

/**
 * The test of a condition node, over its operands (its inputs, by name):
 * comparisons of two operands, `and`/`or`/`not` of tests, or an operand's
 * truthiness.
 */
export type Test =
  | {
    readonly op: "eq" | "ne" | "gt" | "ge" | "lt" | "le";
    readonly args: readonly [string, string];
  }
  | { readonly op: "and" | "or"; readonly args: readonly Test[] }
  | { readonly op: "not"; readonly args: readonly [Test] }
  | { readonly op: "truthy"; readonly args: readonly [string] };

/** One branch of a condition node: the nodes it runs and the outputs it gives. */
export interface Branch {
  /** Its nodes, in the order added. */
  readonly nodes: readonly GraphNode[];
  /** The condition node's outputs when this branch runs, by name. */
  readonly outputBindings: ReadonlyMap<string, Binding>;
}

/**
 * The node `ifElse(condition, then, else)` adds to a static graph: its
 * inputs are the condition's operands; when it runs, the branch its test
 * chooses runs and the other is recorded as skipped. Both are in the graph
 * (and the IR) before anything runs.
 */
export interface ConditionDef extends EntityBase {
  /** Always `"condition"`. */
  readonly kind: "condition";
  /** The test, over the operands. */
  readonly test: Test;
  /** What runs when the test holds. */
  readonly then: Branch;
  /** What runs when it does not (no nodes and no outputs when `ifElse` had no else). */
  readonly else: Branch;
}

/**
 * A durable wait of a flow (`sleep`, `sleepUntil`, `signal`): a node of the
 * run, journalled like a call, that the engine settles when its time comes or
 * its signal arrives. Not an entity users define or export.
 */
export interface WaitDef extends EntityBase {
  /** `"sleep"` or `"signal"`. */
  readonly kind: WaitKind;
  /** For a signal: the type its value must have, when given. */
  readonly schema: InputType | undefined;
}

/** An entity users make: task, flow, workflow, launch plan, map or condition. */
export type UserEntityDef =
  | TaskDef
  | FlowDef
  | GraphDef
  | LaunchPlanDef
  | MapDef
  | ConditionDef;

/** Any entity, discriminated by `kind`. */
export type EntityDef = UserEntityDef | WaitDef;
