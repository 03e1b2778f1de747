// The weft.dag/v1 JSON Schema, checked with a standard validator (ajv, draft
// 2020-12, strict mode) against the IR of every example and every exported
// workflow, and against documents broken in each way the schema should catch.

import assert from "node:assert/strict";
import { Ajv2020 } from "npm:ajv@8.17.1/dist/2020.js";
import { type DagDocument, ValidationError } from "../mod.ts";
import { DAG_SCHEMA, toDag, validateDag } from "../ir.ts";
import { entityOf } from "../src/define/entity.ts";
import { loadScript } from "../src/cli/load.ts";
import { deno, ROOT } from "./_helpers.ts";

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
const validate = ajv.compile(DAG_SCHEMA);

function check(doc: unknown, what: string): void {
  const ok = validate(doc);
  assert.ok(ok, `${what}: ${JSON.stringify(validate.errors, null, 2)}`);
}

async function scripts(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/examples`)) {
    if (e.isFile && e.name.endsWith(".ts")) out.push(`examples/${e.name}`);
  }
  return [...out.sort(), "tests/_dag_fixture.ts"];
}

async function fixtureDocument(): Promise<DagDocument> {
  return (await loadScript(new URL(`file://${ROOT}/tests/_dag_fixture.ts`))).dag;
}

Deno.test("DAG_SCHEMA is a draft 2020-12 schema that ajv compiles in strict mode", () => {
  assert.equal(DAG_SCHEMA.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.ok(ajv.validateSchema(DAG_SCHEMA as object), JSON.stringify(ajv.errors));
  assert.ok(Object.isFrozen(DAG_SCHEMA));
});

Deno.test("the IR weft compile prints for every example validates against the schema", async () => {
  const specs: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/examples`)) {
    if (e.isFile && /\.(ya?ml|json)$/.test(e.name)) specs.push(`examples/${e.name}`);
  }
  assert.ok(specs.length > 0);
  for (const script of [...await scripts(), ...specs.sort()]) {
    const out = await deno(["run", "-A", "cli.ts", "compile", script]);
    assert.equal(out.code, 0, out.stderr);
    check(JSON.parse(out.stdout), script);
  }
});

Deno.test("the IR of every exported workflow, flow, launch plan and task validates on its own", async () => {
  let count = 0;
  for (const script of await scripts()) {
    const mod = await import(`${ROOT}/${script}`) as Record<string, unknown>;
    const entities = Object.values(mod).filter((v) => entityOf(v) !== undefined);
    for (const [name, value] of Object.entries(mod)) {
      if (entityOf(value) === undefined) continue;
      check(toDag([value], { moduleEntities: entities }), `${script}: ${name}`);
      const graph = (value as { graph?: unknown }).graph;
      if (graph !== undefined) check(graph, `${script}: ${name}.graph`);
      count++;
    }
  }
  assert.ok(count >= 15, `only ${count} exports were checked`);
});

Deno.test("docs/weft.dag.v1.schema.json is exactly what weft schema prints", async () => {
  const out = await deno(["run", "-A", "cli.ts", "schema"]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, `${JSON.stringify(DAG_SCHEMA, null, 2)}\n`);
  assert.equal(await Deno.readTextFile(`${ROOT}/docs/weft.dag.v1.schema.json`), out.stdout);
});

/** A broken copy of the fixture's IR, and the path the schema should blame. */
// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;
type Breakage = [what: string, path: string, breakIt: (d: Json) => void];

const BREAKAGES: Breakage[] = [
  ["the wrong format version", "/format", (d) => (d.format = "weft.dag/v2")],
  ["no format", "", (d) => delete d.format],
  ["no task table", "", (d) => delete d.tasks],
  ["an unknown top-level property", "", (d) => (d.extra = 1)],
  ["a workflow of an unknown kind", "/workflows/0/kind", (d) => (d.workflows[0].kind = "both")],
  ["a static workflow without edges", "/workflows/3", (d) => delete d.workflows[3].edges],
  ["a flow with nodes", "/workflows/0", (d) => (d.workflows[0].nodes = [])],
  ["a node without an id", "/workflows/3/nodes/0", (d) => delete d.workflows[3].nodes[0].id],
  ["an empty node id", "/workflows/3/nodes/0/id", (d) => (d.workflows[3].nodes[0].id = "")],
  [
    "a node calling an unknown kind of entity",
    "/workflows/3/nodes/0/entity/kind",
    (d) => (d.workflows[3].nodes[0].entity.kind = "plugin"),
  ],
  [
    "a binding that is none of the five shapes",
    "/workflows/4/nodes/0/bindings/values",
    (d) => (d.workflows[4].nodes[0].bindings.values = { inputs: "values" }),
  ],
  [
    "a binding with two shapes at once",
    "/workflows/4/nodes/0/bindings/values",
    (d) => (d.workflows[4].nodes[0].bindings.values = { input: "values", value: 1 }),
  ],
  [
    "a node output binding without its output",
    "/workflows/4/nodes/1/bindings/values",
    (d) => delete d.workflows[4].nodes[1].bindings.values.output,
  ],
  [
    "an edge without its input",
    "/workflows/3/edges/0",
    (d) => delete d.workflows[3].edges[0].input,
  ],
  ["an input without a type", "/workflows/3/inputs/0", (d) => delete d.workflows[3].inputs[0].type],
  ["negative retries", "/tasks/1/retries", (d) => (d.tasks[1].retries = -1)],
  ["fractional retries", "/tasks/1/retries", (d) => (d.tasks[1].retries = 1.5)],
  ["a zero timeout", "/tasks/1/timeoutMs", (d) => (d.tasks[1].timeoutMs = 0)],
  ["a zero concurrency", "/tasks/1/concurrency", (d) => (d.tasks[1].concurrency = 0)],
  ["cache as a string", "/tasks/1/cache", (d) => (d.tasks[1].cache = "yes")],
  [
    "an unknown permission kind",
    "/tasks/4/permissions",
    (d) => (d.tasks[4].permissions.gpu = true),
  ],
  [
    "a permission of false",
    "/tasks/4/permissions/read",
    (d) => (d.tasks[4].permissions.read = false),
  ],
  [
    "a permission list with an empty entry",
    "/tasks/4/permissions/read/0",
    (d) => (d.tasks[4].permissions.read = [""]),
  ],
  ["a source line of 0", "/tasks/1/source/line", (d) => (d.tasks[1].source.line = 0)],
  ["duplicate output names", "/tasks/5/outputs", (d) => (d.tasks[5].outputs = ["min", "min"])],
  [
    "a launch plan without fixed inputs",
    "/launchPlans/0",
    (d) => delete d.launchPlans[0].fixed,
  ],
];

Deno.test("documents broken in each way fail the schema at the right place, and validateDag says where", async () => {
  const good = await fixtureDocument();
  check(good, "the fixture");
  // The indexes above assume the fixture's sorted order.
  assert.deepEqual(good.workflows.map((w) => `${w.kind} ${w.name}`).slice(0, 5), [
    "dynamic addUp",
    "dynamic anything",
    "dynamic crawl",
    "static pipeline",
    "static summarise",
  ]);
  assert.deepEqual(good.tasks.map((t) => t.name), [
    "<img src=x onerror=alert(1)>",
    "describe",
    "fetchText",
    'say "hi" \\ | # & `tick`',
    "scale",
    "stats",
    "total",
  ]);
  for (const [what, path, breakIt] of BREAKAGES) {
    const doc = structuredClone(good) as unknown as Json;
    breakIt(doc);
    assert.ok(!validate(doc), `${what}: the schema accepted it`);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    assert.ok(
      paths.some((p) => p === path || p.startsWith(`${path}/`)),
      `${what}: expected an error at ${path}, got ${paths.join(", ")}`,
    );
    await assert.rejects(validateDag(doc), (e) => {
      assert.ok(e instanceof ValidationError, `${what}: ${e}`);
      if (path !== "" && what !== "the wrong format version") {
        assert.ok(e.message.includes(path), `${what}: '${e.message}' does not name ${path}`);
      }
      return true;
    });
  }
});

Deno.test("the schema declares exactly the properties that compiled documents use", async () => {
  // Property names the schema declares, outside the permission kinds.
  const declared = new Set<string>();
  const walk = (s: unknown, parent: string): void => {
    if (typeof s !== "object" || s === null) return;
    const props = (s as { properties?: Record<string, unknown> }).properties;
    if (props !== undefined && parent !== "permissions") {
      for (const k of Object.keys(props)) declared.add(k);
    }
    for (const [k, v] of Object.entries(s)) walk(v, k);
  };
  walk(DAG_SCHEMA, "");
  // Keys that real documents use; maps keyed by user names are not properties.
  const used = new Set<string>();
  const MAPS = new Set(["bindings", "object", "defaults", "fixed", "permissions"]);
  const OPAQUE = new Set(["schema", "value", "default"]);
  const visit = (x: unknown, key: string): void => {
    if (Array.isArray(x)) return x.forEach((v) => visit(v, key));
    if (typeof x !== "object" || x === null || OPAQUE.has(key)) return;
    for (const [k, v] of Object.entries(x)) {
      if (!MAPS.has(key)) used.add(k);
      visit(v, MAPS.has(key) ? "" : k);
    }
  };
  visit(await fixtureDocument(), "");
  // Every kind of skeleton zone, with each optional field.
  visit((await loadScript(new URL(`file://${ROOT}/tests/fixtures/skeleton/flows.ts`))).dag, "");
  // Every control feature: overrides, retry policies, maps, conditions, ordering, handlers.
  visit((await loadScript(new URL(`file://${ROOT}/tests/fixtures/controls.ts`))).dag, "");
  assert.deepEqual([...used].sort(), [...declared].sort());
  const permissionKinds = Object.keys(
    (DAG_SCHEMA.$defs as { permissions: { properties: object } }).permissions.properties,
  );
  const { PERMISSION_KINDS } = await import("../mod.ts");
  assert.deepEqual(permissionKinds, [...PERMISSION_KINDS]);
});
