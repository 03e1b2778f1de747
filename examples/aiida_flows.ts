/**
 * The three seed flows of aiida-workgraph's imperative engine, as weft
 * flows: plain TypeScript control flow, with each task call scheduled at once
 * and each `yield*` an await point.
 *
 *     deno run examples/aiida_flows.ts
 *
 * @module
 */

import { flow, task, wait } from "../mod.ts";

/** x + y */
export const add = task(function add(x: number, y: number) {
  return x + y;
});

/** x * y */
export const multiply = task(function multiply(x: number, y: number) {
  return x * y;
});

/** (x + y) * z, returning both the sum and the product. */
export const addMultiply = flow(async function* addMultiply(x: number, y: number, z: number) {
  const sum = add(x, y);
  const product = multiply(sum, z); // starts as soon as `sum` is ready; no wait here
  return { sum: yield* wait(sum), product: yield* wait(product) };
});

/** Branch on a value: only the branch taken becomes part of the graph. */
export const addMultiplyIf = flow(async function* addMultiplyIf(x: number, y: number) {
  const sum = add(x, y);
  if ((yield* wait(sum)) > 0) {
    return { sum, multiply: multiply(sum, -1) };
  } else {
    return { sum, add: add(sum, 1) };
  }
});

/** Loop on a value: each round adds an `add` and a `multiply` node. */
export const keepDoubling = flow(async function* keepDoubling(x: number, y: number) {
  let out = add(x, y);
  while ((yield* wait(out)) < 10) {
    out = multiply(add(out, 1), 2);
  }
  return { sum: out };
});

if (import.meta.main) {
  console.log("addMultiply(3, 4, 1) =", await addMultiply(3, 4, 1));
  console.log("addMultiplyIf(3, 4) =", await addMultiplyIf(3, 4));
  console.log("keepDoubling(3, 4) =", await keepDoubling(3, 4));
}
