// Reading the IR back: compile output loaded with fromDag runs and compiles to
// the same document; every kind of bad input is a precise ValidationError.

import assert from "node:assert/strict";
import { type DagDocument, flow, task, ValidationError, Workflow } from "../mod.ts";
import { fromDag, toDag, validateDag } from "../ir.ts";
import * as regression from "../examples/regression.ts";
import * as fixture from "./_dag_fixture.ts";
import { deno } from "./_helpers.ts";

async function compile(script: string, ...args: string[]): Promise<string> {
  const out = await deno(["run", "-A", "cli.ts", "compile", script, ...args]);
  assert.equal(out.code, 0, out.stderr);
  return out.stdout;
}

const regressionJson = await compile("examples/regression.ts");
const fixtureJson = await compile("tests/_dag_fixture.ts");

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

function broken(json: string, breakIt: (d: Json) => void): Json {
  const doc = JSON.parse(json);
  breakIt(doc);
  return doc;
}

async function rejects(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof ValidationError, `not a ValidationError: ${e}`);
    assert.match(e.message, message);
    return true;
  });
}

/** The document without source locations (a rebuilt workflow is defined where fromDag ran). */
function withoutSources(dag: DagDocument): unknown {
  return JSON.parse(JSON.stringify(dag), (k, v) => k === "source" ? null : v);
}

Deno.test("the compiled regression workflow, loaded back with fromDag and the script's module, runs and gives 3", async () => {
  const wf = await fromDag(regressionJson, regression, { workflow: "regression" });
  assert.ok(wf instanceof Workflow);
  assert.equal(await wf.execute({ x: [-3, 0, 3], y: [7, 4, -2] }), 3);
  assert.equal(await wf({ x: [-3, 0, 3], y: [7, 4, -2] }), 3);
});

Deno.test("the compiled builder workflow loads from the module namespace imported by path", async () => {
  const wf = await fromDag(
    regressionJson,
    await import("../examples/regression.ts"),
    { workflow: "imperative_workflow" },
  );
  assert.equal(await wf.execute({ x: [-3, 0, 3], y: [7, 4, -2] }), 3);
});

Deno.test("fromDag reads the YAML that weft compile --format yaml writes", async () => {
  const yaml = await compile(
    "examples/regression.ts",
    "--workflow",
    "regression",
    "--format",
    "yaml",
  );
  const wf = await fromDag(yaml, [regression.slope, regression.intercept]);
  assert.equal(await wf.execute({ x: [-3, 0, 3], y: [7, 4, -2] }), 3);
});

Deno.test("fromDag takes entities as an array, a record by any key, or a module", async () => {
  const doc = await compile("examples/regression.ts", "--workflow", "regression");
  for (
    const entities of [
      [regression.slope, regression.intercept],
      { a: regression.slope, b: regression.intercept },
      regression,
      [regression.regression],
    ]
  ) {
    const wf = await fromDag(doc, entities);
    assert.equal(await wf.execute({ x: [0, 1, 2], y: [1, 3, 5] }), 1);
  }
});

Deno.test("a loaded workflow keeps the document's node ids and compiles back to the same IR", async () => {
  for (const name of ["pipeline", "summarise", "regression", "imperative_workflow"]) {
    const json = name.includes("regression") || name.includes("imperative")
      ? regressionJson
      : fixtureJson;
    const entities = json === regressionJson ? regression : fixture;
    const wf = await fromDag(json, entities, { workflow: name });
    const original = JSON.parse(json) as DagDocument;
    const again = toDag([wf], { moduleEntities: Object.values(fixture) });
    const expected = (await import("../src/ir/mod.ts")).subDocument(original, name);
    assert.deepEqual(withoutSources(again), withoutSources(expected), name);
  }
});

Deno.test("a loaded workflow with a subworkflow, a launch plan and a flow gives what the original gives", async () => {
  const wf = await fromDag(fixtureJson, fixture, { workflow: "pipeline" });
  const inputs = { values: [1, 2, 3] };
  const expected = await fixture.pipeline.execute(inputs);
  assert.deepEqual(expected, { report: "sum: 18 in [3, 9]", totals: [18, 18, 6] });
  assert.deepEqual(await wf.execute(inputs), expected);
  // Input types written as type strings keep checking values.
  await rejects(wf.execute({ values: "nope" }), /Input 'values' expects number\[\]/);
});

Deno.test("defaults and constants survive the round trip, Map and Date included", async () => {
  const tag = task(function tag(value: unknown, extra: unknown) {
    return { value, extra };
  });
  const wf = new Workflow("tagged");
  wf.addInput("value", "unknown", { default: new Date(0) });
  wf.addOutput(
    "out",
    wf.addEntity(tag, { value: wf.inputs.value, extra: { m: new Map([[1, 2n]]) } }),
  );
  const loaded = await fromDag(JSON.stringify(toDag([wf])), [tag]);
  assert.deepEqual(await loaded.execute({}), {
    value: new Date(0),
    extra: { m: new Map([[1, 2n]]) },
  });
  assert.deepEqual(toDag([loaded]).workflows[0]!.inputs, toDag([wf]).workflows[0]!.inputs);
});

Deno.test("fromDag without a workflow name picks the only workflow nothing else uses, else lists them", async () => {
  const only = await fromDag(
    await compile("tests/_dag_fixture.ts", "--workflow", "pipeline"),
    fixture,
  );
  assert.equal(only.name, "pipeline");
  await rejects(
    fromDag(regressionJson, regression),
    /2 workflows \('imperative_workflow', 'regression'\); choose one with fromDag\(doc, entities, \{ workflow: "NAME" \}\)/,
  );
  await rejects(
    fromDag(regressionJson, regression, { workflow: "regresion" }),
    /no workflow named 'regresion'; its workflows are 'imperative_workflow', 'regression'/,
  );
});

Deno.test("a wrong or missing format version is refused, naming the version", async () => {
  await rejects(
    fromDag(broken(regressionJson, (d) => (d.format = "weft.dag/v2")) as DagDocument, regression),
    /format is 'weft\.dag\/v2', but this weft reads 'weft\.dag\/v1' only; compile the script again/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => delete d.format)),
    /has no 'format'; a weft IR starts with "format": "weft\.dag\/v1"/,
  );
  await rejects(validateDag({ format: "other/v1" }), /not a weft IR/);
  await rejects(validateDag("{ not json"), /not valid JSON/);
  await rejects(validateDag("[1, 2]"), /is a JSON object, but this is an array/);
});

Deno.test("unknown entities are refused, listing the known ones", async () => {
  await rejects(
    fromDag(regressionJson, [regression.slope], { workflow: "regression" }),
    /uses task 'intercept', but no task of that name was given; the given tasks are 'slope'/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => (d.workflows[1].nodes[0].entity.name = "slop"))),
    /Node 'slope' of workflow 'regression' refers to task 'slop', which is not in the document's tasks \('intercept', 'slope'\)/,
  );
  await rejects(
    validateDag(broken(fixtureJson, (d) => (d.launchPlans[0].entity.name = "nothing"))),
    /Launch plan 'summarise_daily' refers to workflow 'nothing', which is not in the document's workflows/,
  );
  await rejects(
    validateDag(broken(fixtureJson, (d) => (d.workflows[0].calls[0].name = "ghost"))),
    /Flow 'addUp' refers to task 'ghost'/,
  );
  await rejects(
    fromDag(fixtureJson, [fixture.scale, fixture.stats, fixture.total, fixture.describe], {
      workflow: "pipeline",
    }),
    /uses flow 'addUp' \(kind dynamic\), which can only be bound to a flow of that name, and none was given/,
  );
  const impostor = task(function addUp(values: number[]) {
    return values.length;
  });
  await rejects(
    fromDag(fixtureJson, [fixture.summarise, impostor], { workflow: "pipeline" }),
    /flow 'addUp'.*can only be bound to a flow of that name/,
  );
  await rejects(
    fromDag(fixtureJson, fixture, { workflow: "crawl" }),
    /'crawl' of the document is a flow \(kind dynamic\).*nothing to rebuild; run the flow itself/,
  );
});

Deno.test("a given task or flow whose inputs or outputs differ from the document is refused", async () => {
  const slope = task(function slope(x: number[], y: number[], weights: number[]) {
    return x.length + y.length + weights.length;
  });
  await rejects(
    fromDag(regressionJson, [slope, regression.intercept], { workflow: "regression" }),
    /document's task 'slope' takes \(x, y\), but the given task 'slope' takes \(x, y, weights\); the script changed since it was compiled/,
  );
  const intercept = task(
    { outputs: ["a", "b"] },
    function intercept(x: number[], y: number[], slope: number) {
      return { a: x, b: y, slope };
    },
  );
  await rejects(
    fromDag(regressionJson, [regression.slope, intercept], { workflow: "regression" }),
    /document's task 'intercept' has outputs \(o0\), but the given task 'intercept' has \(a, b\)/,
  );
  const addUp = flow(async function* addUp(values: number[], extra: number) {
    return values.length + extra;
  });
  await rejects(
    fromDag(fixtureJson, [fixture.summarise, addUp], { workflow: "pipeline" }),
    /document's flow 'addUp' takes \(values\), but the given flow 'addUp' takes \(values, extra\)/,
  );
});

Deno.test("cycles are refused, naming the cycle", async () => {
  await rejects(
    validateDag(broken(regressionJson, (d) => {
      const wf = d.workflows[1];
      wf.nodes[0].bindings.x = { node: "intercept", output: "o0" };
      wf.edges[0] = { from: "intercept", output: "o0", to: "slope", input: "x" };
    })),
    /Workflow 'regression' has a cycle: (slope → intercept → slope|intercept → slope → intercept); a static workflow must be acyclic/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => {
      d.workflows[1].nodes[0].bindings.x = { node: "slope", output: "o0" };
      d.workflows[1].edges[0] = { from: "slope", output: "o0", to: "slope", input: "x" };
    })),
    /has a cycle: slope → slope/,
  );
  // A workflow that contains itself through a subworkflow.
  await rejects(
    validateDag(broken(fixtureJson, (d) => {
      const summarise = d.workflows.find((w: Json) => w.name === "summarise");
      summarise.nodes.push({
        id: "again",
        entity: { kind: "workflow", name: "pipeline" },
        bindings: { values: { input: "values" } },
      });
      summarise.edges.push({ from: "$inputs", output: "values", to: "again", input: "values" });
    })),
    /Workflow 'pipeline' contains itself: workflow 'pipeline' → workflow 'summarise' → workflow 'pipeline'/,
  );
  // Through a launch plan.
  await rejects(
    validateDag(broken(fixtureJson, (d) => {
      const summarise = d.workflows.find((w: Json) => w.name === "summarise");
      summarise.nodes.push({
        id: "lp",
        entity: { kind: "launchPlan", name: "summarise_daily" },
        bindings: { values: { input: "values" } },
      });
      summarise.edges.push({ from: "$inputs", output: "values", to: "lp", input: "values" });
    })),
    /contains itself: .*launch plan 'summarise_daily' → workflow 'summarise'/,
  );
});

Deno.test("bindings to unknown nodes, inputs, outputs or parameters are refused precisely", async () => {
  await rejects(
    validateDag(
      broken(regressionJson, (d) => (d.workflows[1].nodes[1].bindings.slope.node = "slop")),
    ),
    /Input 'slope' of node 'intercept' of workflow 'regression' is bound to node 'slop', which workflow 'regression' does not have; its nodes are 'slope', 'intercept'/,
  );
  await rejects(
    validateDag(
      broken(regressionJson, (d) => (d.workflows[1].nodes[1].bindings.slope.output = "o1")),
    ),
    /is bound to output 'o1' of node 'slope', but task 'slope' has outputs 'o0'/,
  );
  await rejects(
    validateDag(
      broken(regressionJson, (d) => (d.workflows[1].nodes[0].bindings.x = { input: "z" })),
    ),
    /Input 'x' of node 'slope' of workflow 'regression' is bound to input 'z' of workflow 'regression', which has no such input; its inputs are 'x', 'y'/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => (d.workflows[1].nodes[0].bindings.w = { value: 1 }))),
    /Node 'slope' of workflow 'regression' binds input 'w', but task 'slope' has no input 'w'; its inputs are 'x', 'y'/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => {
      delete d.workflows[1].nodes[1].bindings.slope;
      d.workflows[1].edges.splice(2, 1);
    })),
    /Node 'intercept' of workflow 'regression' does not bind input 'slope' of task 'intercept', which is required/,
  );
  await rejects(
    validateDag(
      broken(
        regressionJson,
        (d) => (d.workflows[1].outputs[0].binding = { node: "nope", output: "o0" }),
      ),
    ),
    /Output 'o0' of workflow 'regression' is bound to node 'nope'/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => d.workflows[1].edges.pop())),
    /edges of workflow 'regression' do not match its bindings: the binding intercept\.o0 → \$outputs\.o0 has no edge/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => (d.workflows[1].nodes[1].id = "slope"))),
    /lists 'slope' twice among its node ids of workflow 'regression'/,
  );
  await rejects(
    validateDag(broken(fixtureJson, (d) => (d.launchPlans[0].defaults.colour = "red"))),
    /Launch plan 'summarise_daily' sets defaults input 'colour', but workflow 'summarise' has no such input/,
  );
  await rejects(
    validateDag(broken(regressionJson, (d) => (d.workflows[1].nodes[0].bindings.x = { nod: "x" }))),
    /schema at \/workflows\/1\/nodes\/0\/bindings\/x: is not a binding: use \{ input \}, \{ node, output \}, \{ value \}/,
  );
});

Deno.test("an unused input of a loaded workflow is refused as in the builder", async () => {
  await rejects(
    fromDag(
      broken(
        regressionJson,
        (d) => d.workflows[1].inputs.push({ name: "z", type: "number", optional: false }),
      ) as DagDocument,
      regression,
      { workflow: "regression" },
    ),
    /Input 'z' of workflow 'regression' is not used by any node or output/,
  );
});
