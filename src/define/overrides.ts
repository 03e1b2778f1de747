/**
 * `entity.with({…})`: the same entity with some options changed for the
 * calls made through the result (Flyte's `with_overrides`). The result is a
 * definition that inherits everything from the entity and overrides a few
 * fields, and says which entity it overrides, so that node ids, the IR and
 * the per-task limits find the entity as defined.
 *
 * @module
 */

import { type Duration, parseDuration } from "../core/duration.ts";
import { ValidationError } from "../core/errors.ts";
import { isPlainObject } from "../core/values.ts";
import type { CallOverrides, EntityDef } from "./defs.ts";
import { describeEntity } from "./entity.ts";
import { checkRetries } from "./retry_policy.ts";

/** What `.with({…})` takes: tasks all of it, workflows, flows and launch plans `name` and `timeout`. */
export interface CallOptions {
  /** The node id to use instead of the entity's name. */
  name?: string;
  /** Retries after a failure (tasks). */
  retries?: number;
  /** A task attempt's timeout, or a workflow's or flow's whole timeout. */
  timeout?: Duration;
  /** Whether results are cached (tasks). */
  cache?: boolean;
  /** The queue the call is placed on, for workers (tasks). */
  queue?: string;
}

/** What `.with({…})` takes for a workflow, flow or launch plan. */
export interface WorkflowCallOptions {
  /** The node id to use instead of the entity's name. */
  name?: string;
  /** The whole call's timeout (distinct from a task attempt's). */
  timeout?: Duration;
}

const TASK_KEYS = ["name", "retries", "timeout", "cache", "queue"];
const OTHER_KEYS = ["name", "timeout"];

/**
 * The entity as defined, behind any `.with({…})`.
 *
 * @param def An entity.
 * @returns The entity it overrides, or itself.
 */
export function baseOf<D extends EntityDef>(def: D): D {
  return (def.call?.base ?? def) as D;
}

/**
 * The name a call of `def` gives its node: the `.with({ name })`, else the entity's.
 *
 * @param def An entity.
 * @returns The node name.
 */
export function callName(def: EntityDef): string {
  return def.call?.overrides.name ?? def.name;
}

/**
 * Makes the definition `entity.with(options)` calls.
 *
 * @param def The entity (possibly overridden already: the options add up).
 * @param options What to change.
 * @returns The overridden definition.
 * @throws {ValidationError} On an unknown option or a value that does not fit.
 */
export function withOverrides(def: EntityDef, options: unknown): EntityDef {
  const what = describeEntity(def);
  if (!isPlainObject(options)) {
    throw new ValidationError(
      `${what}.with(options) takes an object, such as { name: "${def.name}_eu", retries: 3 }`,
    );
  }
  const allowed = def.kind === "task" ? TASK_KEYS : def.kind === "map" ? ["name"] : OTHER_KEYS;
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new ValidationError(
        `${what}.with() has no option '${key}'; ${
          def.kind === "task"
            ? "a task call"
            : def.kind === "map"
            ? "a map (give its entity's options to the entity: mapTask(t.with({…})))"
            : `a ${describeEntity(def).split(" ")[0]} call`
        } can change ${allowed.join(", ")}`,
      );
    }
  }
  const base = baseOf(def);
  const overrides: { -readonly [K in keyof CallOverrides]: CallOverrides[K] } = {
    ...def.call?.overrides,
  };
  if (options.name !== undefined) {
    if (typeof options.name !== "string" || !/^[A-Za-z_$][\w$.-]*$/.test(options.name)) {
      throw new ValidationError(
        `Cannot name a call of ${what} ${
          JSON.stringify(options.name)
        }: use letters, digits, '_', '$', '.' or '-', starting with a letter or '_'`,
      );
    }
    overrides.name = options.name;
  }
  if (options.retries !== undefined) {
    overrides.retries = checkRetries(options.retries, what);
  }
  if (options.timeout !== undefined) {
    overrides.timeoutMs = parseDuration(options.timeout, `the timeout of ${what}.with()`);
  }
  if (options.cache !== undefined) {
    if (typeof options.cache !== "boolean") {
      throw new ValidationError(`The 'cache' of ${what}.with() must be true or false`);
    }
    overrides.cache = options.cache;
  }
  if (options.queue !== undefined) {
    overrides.queue = queueOption(options.queue, `${what}.with()`)!;
  }
  const own: PropertyDescriptorMap = {};
  // A task's fields change; a workflow's or flow's timeout is read from `call` where it runs.
  if (base.kind === "task") {
    for (const key of ["retries", "timeoutMs", "cache", "queue"] as const) {
      if (overrides[key] !== undefined) own[key] = { value: overrides[key] };
    }
  }
  own.call = { value: { base, overrides } };
  if (base.kind === "workflow") {
    // A static graph keeps private state: its methods run on the graph itself.
    own.validate = { value: () => base.validate() };
  }
  return Object.create(base, own) as EntityDef;
}

/**
 * Checks a `queue` option.
 *
 * @param queue The option as given.
 * @param what The entity in messages.
 * @returns The queue name, or undefined.
 * @throws {ValidationError} Unless a queue name.
 */
export function queueOption(queue: unknown, what: string): string | undefined {
  if (queue === undefined) return undefined;
  if (typeof queue !== "string" || !/^[\w.:-]{1,64}$/.test(queue)) {
    throw new ValidationError(
      `The 'queue' option of ${what} must be a queue name of 1 to 64 letters, digits, '_', '-', '.' or ':': current value is ${
        JSON.stringify(queue)
      }`,
    );
  }
  return queue;
}
