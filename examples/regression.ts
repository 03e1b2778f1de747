/**
 * The Flyte seed: fit a line through three points, written twice — as a
 * declarative workflow and with the imperative builder — on the same tasks.
 *
 * Run it with no permissions at all:
 *
 *     deno run examples/regression.ts
 *
 * @module
 */

import { task, Workflow, workflow } from "../mod.ts";

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The least-squares slope of y against x. */
export const slope = task(function slope(x: number[], y: number[]) {
  const mx = mean(x);
  const my = mean(y);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num += (x[i]! - mx) * (y[i]! - my);
    den += (x[i]! - mx) ** 2;
  }
  return num / den;
});

/** Where the line crosses x = 0. */
export const intercept = task(function intercept(x: number[], y: number[], slope: number) {
  return mean(y) - slope * mean(x);
});

/** Declarative: the body is traced once; the graph exists before anything runs. */
export const regression = workflow(
  { inputs: { x: "number[]", y: "number[]" } },
  function regression(x: number[], y: number[]) {
    const s = slope(x, y);
    return intercept(x, y, s);
  },
);

/** Imperative builder: the same graph, built by code (as Flyte's ImperativeWorkflow). */
export const imperative = new Workflow("imperative_workflow");
const x = imperative.addInput("x", "number[]");
imperative.addInput("y", "number[]");
const n1 = imperative.addEntity(slope, { x, y: imperative.inputs.y });
const n2 = imperative.addEntity(intercept, { x, y: imperative.inputs.y, slope: n1.outputs.o0 });
imperative.addOutput("wf_output", n2.outputs.o0);

if (import.meta.main) {
  const xs = [-3, 0, 3];
  const ys = [7, 4, -2];
  const declarative = await regression(xs, ys);
  const built = await imperative({ x: xs, y: ys });
  if (declarative !== built) throw new Error(`the two styles disagree: ${declarative} != ${built}`);
  console.log(declarative);
}
