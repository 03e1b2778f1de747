/**
 * `after(handle, ...deps)`: ordering edges without data. The node behind
 * `handle` starts only after the nodes behind `deps` have succeeded, though
 * no value passes between them (Flyte's `runs_before` and `>>`, aiida's
 * `waiting_on`, Argo's `dependencies`). A failed dependency skips it, as a
 * failed input would.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { type Handle, isHandle, type RefSource, slotOf } from "./handle.ts";

/**
 * Makes the node behind `handle` start only after the nodes behind `deps`
 * have succeeded; no value passes. In a declarative workflow or a builder
 * the order is part of the graph (and of its IR); in a flow it applies to a
 * call made in the same step, before the flow's next `yield` (a call starts
 * at that point).
 *
 * @example Run `load` only after `migrate`, though it takes nothing from it
 * ```ts
 * import { after, task, workflow } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const order: string[] = [];
 * const migrate = task(function migrate() { order.push("migrate"); });
 * const load = task(function load(table: string) { order.push(`load ${table}`); return table; });
 * const etl = workflow(function etl(table: string) {
 *   const m = migrate();
 *   return after(load(table), m);
 * });
 * assert.equal(await etl("users"), "users");
 * assert.deepEqual(order, ["migrate", "load users"]);
 * ```
 *
 * @param handle The call that waits (its handle, as a task call returns it).
 * @param deps The calls it waits for: handles, or arrays of them.
 * @returns `handle`, so that the call can be written inline.
 * @throws {ValidationError} When a handle is not a node's, belongs to another graph, or the order would make a cycle.
 */
export function after<H extends Handle<unknown>>(handle: H, ...deps: unknown[]): H {
  if (!isHandle(handle)) {
    throw new ValidationError(
      `after(handle, ...deps) takes the handle of a call first, such as after(load(x), migrate()); got ${typeof handle}`,
    );
  }
  const source = slotOf(handle).source;
  const sources: RefSource[] = [];
  const collect = (d: unknown, i: number): void => {
    if (Array.isArray(d)) return d.forEach((x) => collect(x, i));
    if (!isHandle(d)) {
      throw new ValidationError(
        `after(${source.describe()}, …): dependency ${i + 1} is ${
          d === null ? "null" : typeof d
        }, not the handle of a call`,
      );
    }
    sources.push(slotOf(d).source);
  };
  deps.forEach(collect);
  if (source.orderAfter === undefined) {
    throw new ValidationError(
      `after() orders calls inside a workflow or flow, but ${source.describe()} is not such a call`,
    );
  }
  if (sources.length > 0) source.orderAfter(sources);
  return handle;
}
