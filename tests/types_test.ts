import assert from "node:assert/strict";
import { z } from "npm:zod@3.24.1";
import { task, ValidationError, Workflow } from "../mod.ts";
import { inputType } from "../src/define/input_types.ts";

const echo = task(function echo(v: unknown) {
  return v;
});

function echoWorkflow(type: unknown): Workflow {
  const wf = new Workflow("echo_wf");
  wf.addOutput("v", wf.addEntity(echo, { v: wf.addInput("v", type as never) }));
  return wf;
}

Deno.test("type strings check values and explain mismatches", () => {
  const cases: [string, unknown, boolean][] = [
    ["number", 1.5, true],
    ["number", "1", false],
    ["integer", 2, true],
    ["integer", 2.5, false],
    ["string", "s", true],
    ["boolean", false, true],
    ["unknown", { any: "thing" }, true],
    ["number[]", [1, 2], true],
    ["number[]", [1, "2"], false],
    ["Array<string>", ["a"], true],
    ["Record<string, number[]>", { a: [1], b: [] }, true],
    ["Record<string, number[]>", { a: ["x"] }, false],
    ["string | null", null, true],
    ["(string | number)[]", ["a", 1], true],
    ["integer[][]", [[1], [2, 3]], true],
  ];
  for (const [text, value, ok] of cases) {
    const type = inputType(text, "input");
    if (ok) {
      assert.deepEqual(type.check(value, "v"), value, `${text} accepts ${JSON.stringify(value)}`);
    } else {assert.throws(
        () => type.check(value, "v"),
        ValidationError,
        `${text} rejects ${JSON.stringify(value)}`,
      );}
  }
  assert.throws(
    () => inputType("number[]", "x").check([1, "2"], "x"),
    /Input 'x' expects number\[\] but was given an array of 2 \(at \[1\]: the string "2"\)/,
  );
  assert.throws(() => inputType("Map<string>", "input 'm'"), /unknown type 'Map'/);
  assert.throws(() => inputType("number[", "input 'm'"), /Cannot read the type "number\["/);
  assert.deepEqual(inputType("Record<string, integer>", "r").schema, {
    type: "object",
    additionalProperties: { type: "integer" },
  });
});

Deno.test("a JSON Schema input is checked with a standard validator before anything runs", async () => {
  let ran = false;
  const spy = task(function spy(p: unknown) {
    ran = true;
    return p;
  });
  const wf = new Workflow("schema_wf");
  const p = wf.addInput("p", {
    type: "object",
    properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
    required: ["name"],
  });
  wf.addOutput("p", wf.addEntity(spy, { p }));
  assert.deepEqual(await wf({ p: { name: "ada", age: 36 } }), { name: "ada", age: 36 });
  ran = false;
  await assert.rejects(
    () => wf.execute({ p: { age: -1 } }),
    (e) =>
      e instanceof ValidationError &&
      /Input 'p' does not match its JSON Schema: .*required property 'name'.*\/age must be >= 0/
        .test(e.message),
  );
  assert.equal(ran, false);
  const spec = wf.graph.workflows[0]!;
  assert.equal(spec.inputs[0]!.type, "object (JSON Schema)");
});

Deno.test("a Standard Schema validator (zod) checks and transforms inputs", async () => {
  const wf = echoWorkflow(
    z.object({ n: z.coerce.number().int(), tags: z.array(z.string()).default([]) }),
  );
  assert.deepEqual(await wf({ v: { n: "4" } }), { n: 4, tags: [] });
  await assert.rejects(
    () => wf.execute({ v: { n: "x" } }),
    (e) =>
      e instanceof ValidationError &&
      /Input 'v' does not match its zod schema: n: Expected number/.test(e.message),
  );
  assert.equal(wf.graph.workflows[0]!.inputs[0]!.type, "zod schema");
});

Deno.test("a type that is none of these is a ValidationError", () => {
  assert.throws(
    () => new Workflow("w").addInput("x", 42 as never),
    /Cannot use 42 as the type of input 'x'/,
  );
});
