// A script that uses every part of the weft.dag/v1 IR, for the schema, export,
// reader and CLI tests: task options and permissions, named outputs, defaults,
// constant, array and object bindings, a subworkflow, a launch plan, flows with
// and without `tasks:`, and names that need escaping in every export format.
// Importing it runs nothing and needs no permission.

import { flow, launchPlan, task, type TaskContext, wait, Workflow, workflow } from "../mod.ts";

/** Multiplies each value (declares read access, to show up in inspect). */
export const scale = task(
  { permissions: { read: ["./data"] } },
  function scale(values: number[], factor = 2) {
    return values.map((v) => v * factor);
  },
);

/** The sum. */
export const total = task(function total(values: number[]) {
  return values.reduce((a, b) => a + b, 0);
});

/** Two named outputs. */
export const stats = task({ outputs: ["min", "max"] }, function stats(values: number[]) {
  return { min: Math.min(...values), max: Math.max(...values) };
});

/** Takes an object built from several node outputs. */
export const describe = task(
  { cache: true, version: "1", retries: 2, retryDelay: "50ms", timeout: "5s", concurrency: 2 },
  function describe(summary: { total: number; range: number[] }, label: string) {
    return `${label}: ${summary.total} in [${summary.range.join(", ")}]`;
  },
);

/** Declares network and env access; never called by the tests. */
export const fetchText = task(
  { permissions: { net: ["example.com:443"], env: ["TOKEN"] } },
  async function fetchText(url: string, ctx: TaskContext) {
    return await (await fetch(url, { signal: ctx.signal })).text();
  },
);

/** Declarative, with a default input and two outputs. */
export const summarise = workflow(
  { inputs: { values: "number[]", label: "string" }, defaults: { label: "sum" } },
  function summarise(values: number[], label: string) {
    const scaled = scale(values, 3);
    const s = stats(scaled);
    const t = total(scaled);
    return { text: describe({ total: t, range: [s.outputs.min, s.outputs.max] }, label), total: t };
  },
);

/** A flow that declares what it calls. */
export const addUp = flow(
  { tasks: [total], outputs: ["sum"] },
  async function* addUp(values: number[]) {
    return { sum: yield* wait(total(values)) };
  },
);

/** A flow without `tasks:`: it may call every task of this module. */
export const anything = flow(async function* anything(x: number) {
  return x;
});

/** A flow that needs network access. */
export const crawl = flow({ tasks: [fetchText] }, async function* crawl(url: string) {
  return yield* wait(fetchText(url));
});

/** A launch plan of the declarative workflow, scheduled every night at two in Paris. */
export const daily = launchPlan(summarise, {
  name: "summarise_daily",
  defaults: { label: "daily", values: [0] },
  schedule: "0 2 * * *",
  timezone: "Europe/Paris",
  overlap: "queue",
  catchUp: 2,
});

/** The builder: a subworkflow, a launch plan and a flow as nodes, constants, an array output. */
export const pipeline = new Workflow("pipeline");
const values = pipeline.addInput("values", "number[]");
const sub = pipeline.addEntity(summarise, { values });
const planned = pipeline.addEntity(daily, { values: [1, 2, 3] });
const summed = pipeline.addEntity(addUp, { values });
pipeline.addOutput("report", sub.outputs.text);
pipeline.addOutput("totals", [sub.outputs.total, planned.outputs.total, summed.outputs.sum]);

const img = task({ name: "<img src=x onerror=alert(1)>" }, function (x: number) {
  return x;
});
const quoted = task({ name: 'say "hi" \\ | # & `tick`' }, function (x: number) {
  return x;
});

/** Names that must be escaped in DOT, Mermaid, HTML and script data. */
export const hostile = workflow(
  { name: "xss</script><script>alert(2)</script>" },
  function (x: number) {
    return quoted(img(x));
  },
);
