/**
 * `mapTask(entity, options)`: runs an entity once per element of a list
 * whose length is known only at run time, and gives the results in order
 * (Flyte's `map_task`, Airflow's `.expand`, Prefect's `.map`, aiida's Map
 * zone). One node in every style and in the IR, however long the list.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { isPlainObject } from "../core/values.ts";
import type { EntityDef, MapDef } from "./defs.ts";
import { callerLocation, describeEntity, requireEntity } from "./entity.ts";
import { entityFunction } from "./factory.ts";
import type { Handle } from "./handle.ts";
import type { WorkflowCallOptions } from "./overrides.ts";

/** Options of {@linkcode mapTask}. */
export interface MapTaskOptions {
  /**
   * The inputs that take lists: one execution per element (zipped when
   * several, which must then have the same length). The other inputs go to
   * every execution as they are (Airflow's `partial`).
   * @default the entity's first input
   */
  over?: string[];
  /**
   * How many executions may run at once (the run's `concurrency` applies too).
   * @default no limit of its own
   */
  concurrency?: number;
  /**
   * The share of executions that must succeed, from 0 to 1. At 1 (the
   * default) the first failure fails the map; below, failed elements are
   * `null` in the results, and the map fails (stopping what still runs) only
   * once the share can no longer be reached.
   * @default 1
   */
  minSuccessRatio?: number;
  /**
   * The map's name: its node id.
   * @default `map_` and the entity's name
   */
  name?: string;
}

/**
 * A mapped entity: call it with lists (for its `over` inputs) and values.
 *
 * @typeParam R The results: one per element, in order.
 */
export interface MapTask<R = unknown> {
  /** Runs the entity once per element (or adds the map as one node inside a workflow or flow). */
  // deno-lint-ignore no-explicit-any
  (...args: any[]): Handle<R>;
  /** The map's name. */
  readonly name: string;
  /** The same map under another node name, for the calls made through the result. */
  with(options: Pick<WorkflowCallOptions, "name">): MapTask<R>;
}

/** The results of mapping an entity whose calls give `Handle<T>`: a list of `T`. */
export type MappedResults<E> = E extends (...args: never[]) => Handle<infer T> ? T[] : unknown[];

/**
 * Makes an entity that runs `entity` once per element of the lists given to
 * its `over` inputs and resolves to the results in order. Usable wherever an
 * entity is: called in a declarative workflow or a flow, or given to the
 * builder's `addEntity`. The graph holds one map node, however long the
 * list; it expands into one execution per element (`map_square/0`,
 * `map_square/1`, …) only when it runs, each journaled, cached and retried
 * like any call.
 *
 * @example Square every number, then sum
 * ```ts
 * import { mapTask, task, workflow } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const square = task(function square(x: number) { return x * x; });
 * const sum = task(function sum(xs: number[]) { return xs.reduce((a, b) => a + b, 0); });
 * const sumOfSquares = workflow(function sumOfSquares(xs: number[]) {
 *   return sum(mapTask(square)(xs));
 * });
 * assert.equal(await sumOfSquares([1, 2, 3]), 14);
 * assert.equal(await mapTask(square, { concurrency: 2 })([4, 5]).then((r) => r.join()), "16,25");
 * ```
 *
 * @param entity The task, workflow, flow or launch plan to run per element.
 * @param options Which inputs take lists, a concurrency limit, the share that must succeed.
 * @returns The mapped entity.
 * @throws {ValidationError} On an unknown input, a bad limit or ratio, or an entity without inputs.
 */
export function mapTask<E>(entity: E, options: MapTaskOptions = {}): MapTask<MappedResults<E>> {
  const target = requireEntity(entity, "mapTask(entity, options)");
  const what = `mapTask(${describeEntity(target)})`;
  if (!isPlainObject(options as unknown)) {
    throw new ValidationError(`${what} takes options as an object, such as { over: ["x"] }`);
  }
  for (const key of Object.keys(options)) {
    if (!["over", "concurrency", "minSuccessRatio", "name"].includes(key)) {
      throw new ValidationError(
        `Unknown option '${key}' of ${what}; the options are over, concurrency, minSuccessRatio, name`,
      );
    }
  }
  const names = target.params.map((p) => p.name);
  if (names.length === 0) {
    throw new ValidationError(
      `${what}: ${describeEntity(target)} has no inputs, so there is nothing to map over`,
    );
  }
  const over = options.over ?? [names[0]!];
  if (!Array.isArray(over) || over.length === 0) {
    throw new ValidationError(
      `The 'over' option of ${what} must list at least one input name, such as ["${names[0]}"]`,
    );
  }
  for (const name of over) {
    if (!names.includes(name)) {
      throw new ValidationError(
        `${what} maps over input '${name}', but its inputs are ${names.join(", ")}`,
      );
    }
  }
  const concurrency = options.concurrency;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new ValidationError(
      `Cannot limit ${what} as 'concurrency' must be a positive integer: current value is ${concurrency}`,
    );
  }
  const ratio = options.minSuccessRatio ?? 1;
  if (typeof ratio !== "number" || !(ratio >= 0 && ratio <= 1)) {
    throw new ValidationError(
      `The 'minSuccessRatio' of ${what} must be a number from 0 to 1 (1: every element must succeed): current value is ${
        String(ratio)
      }`,
    );
  }
  const name = options.name ?? `map_${target.name}`;
  if (!/^[A-Za-z_$][\w$.-]*$/.test(name)) {
    throw new ValidationError(
      `Cannot name ${what} ${
        JSON.stringify(name)
      }: use letters, digits, '_', '$', '.' or '-', starting with a letter or '_'`,
    );
  }
  const def: MapDef = {
    kind: "map",
    name,
    params: target.params,
    outputs: target.outputs,
    bare: target.bare,
    callStyle: target.callStyle,
    source: callerLocation(),
    target,
    over: [...new Set(over)],
    concurrency,
    minSuccessRatio: ratio,
  };
  return entityFunction(def) as MapTask<MappedResults<E>>;
}

/**
 * The entity a call finally runs, behind any maps: what the IR names.
 *
 * @param def An entity.
 * @returns The map's target (its own target, for a map of a map), or the entity.
 */
export function mappedEntity(def: EntityDef): EntityDef {
  let d = def;
  while (d.kind === "map") d = d.target;
  return d;
}
