// Flow skeletons as `weft compile` extracts them: the zone tree a reader would
// draw for the aiida seed flows and for fixtures of every kind of zone, the
// permissions `weft run` grants from them, and where the parser is (not) loaded.

import assert from "node:assert/strict";
import type { SkeletonZone } from "../ir.ts";
import type { DagDocument } from "../mod.ts";
import { loadScript } from "../src/cli/load.ts";
import { deno, ROOT } from "./_helpers.ts";

const documents = new Map<string, DagDocument>();
async function compiled(script: string): Promise<DagDocument> {
  let dag = documents.get(script);
  if (dag === undefined) {
    dag = (await loadScript(new URL(`file://${ROOT}/${script}`), { cache: false })).dag;
    documents.set(script, dag);
  }
  return dag;
}

/** A zone tree as a reader would write it down: `add`, `while (…) [ … ]`, `wait(c1)`… */
function shape(zones: readonly SkeletonZone[]): unknown[] {
  return zones.map((z): unknown => {
    switch (z.kind) {
      case "call":
        return `${z.id} ${z.entity.name}${z.from.length ? ` ← ${z.from.join(" ")}` : ""}`;
      case "wait":
        return `${z.mode}(${z.on.join(" ")})`;
      case "exit":
        return `${z.exit}${z.label ? ` ${z.label}` : ""}`;
      case "unknown":
        return `unknown ${z.source}: ${z.reason}`;
      case "loop":
        return {
          [`${z.loop} (${z.condition})`]: shape(z.body),
          ...(z.test.length ? { test: shape(z.test) } : {}),
          ...(z.carries.length ? { carries: z.carries.join(" ") } : {}),
        };
      case "branch":
        return { [`if (${z.condition})`]: shape(z.then), else: shape(z.else) };
      case "switch":
        return {
          [`switch (${z.condition})`]: z.cases.map((c) => ({
            [`${c.test ?? "default"}${c.fallsThrough ? " ↓" : ""}`]: shape(c.body),
          })),
        };
      case "try":
        return {
          try: shape(z.body),
          ...(z.catch ? { catch: shape(z.catch) } : {}),
          ...(z.finally ? { finally: shape(z.finally) } : {}),
        };
      case "helper":
        return { [`helper ${z.name}`]: shape(z.body) };
    }
  });
}

async function skeleton(script: string, flow: string) {
  const wf = (await compiled(script)).workflows.find((w) => w.name === flow);
  assert.ok(wf?.kind === "dynamic" && wf.skeleton !== undefined, `${flow} has a skeleton`);
  return { shape: shape(wf.skeleton), flow: wf };
}

const AIIDA = "examples/aiida_flows.ts";
const FIXTURE = "tests/fixtures/skeleton/flows.ts";

Deno.test("addMultiply: add, then multiply fed by add, then the two waits", async () => {
  const { shape, flow } = await skeleton(AIIDA, "addMultiply");
  assert.deepEqual(shape, ["c1 add", "c2 multiply ← c1", "wait(c1)", "wait(c2)", "return"]);
  assert.equal(flow.callsFrom, "skeleton");
  assert.deepEqual(flow.calls.map((c) => c.name), ["add", "multiply"]);
});

Deno.test("addMultiplyIf: add, a wait, then a branch with multiply or add", async () => {
  const { shape, flow } = await skeleton(AIIDA, "addMultiplyIf");
  assert.deepEqual(shape, [
    "c1 add",
    "wait(c1)",
    {
      "if ((yield* wait(sum)) > 0)": ["c2 multiply ← c1", "return"],
      else: ["c3 add ← c1", "return"],
    },
  ]);
  const branch = flow.skeleton!.find((z) => z.kind === "branch")!;
  assert.ok(branch.kind === "branch");
  assert.deepEqual(branch.waits, ["c1"], "the condition waits on add");
  assert.equal(branch.line, 33);
});

Deno.test("keepDoubling: a while loop whose condition waits on out, carried round the loop from multiply", async () => {
  const { shape, flow } = await skeleton(AIIDA, "keepDoubling");
  assert.deepEqual(shape, [
    "c1 add",
    {
      "while ((yield* wait(out)) < 10)": ["c2 add ← c1 c3", "c3 multiply ← c2"],
      test: ["wait(c1 c3)"],
      carries: "out",
    },
    "return",
  ]);
  const loop = flow.skeleton![1]!;
  assert.ok(loop.kind === "loop");
  assert.deepEqual(loop.waits, ["c1", "c3"]);
  assert.equal(loop.line, 43);
  const ret = flow.skeleton![2]!;
  assert.ok(ret.kind === "exit" && ret.exit === "return");
  assert.deepEqual(ret.from, ["c1", "c3"], "the output is add's or multiply's");
});

Deno.test("the Flyte-style wordcount flow: readText, an each over the lines with words, count, topWords", async () => {
  const { shape, flow } = await skeleton("examples/wordcount.ts", "wordcount");
  assert.deepEqual(shape, [
    "c1 readText",
    "wait(c1)",
    { "each (lines.map)": ["c2 words ← c1"] },
    "c3 count ← c1 c2",
    "c4 topWords ← c3",
    "return",
  ]);
  // It lists tasks: the list and the skeleton agree, so no warning.
  assert.equal(flow.callsFrom, "tasks");
});

Deno.test("nested loops with a continue and a labelled break", async () => {
  const { shape, flow } = await skeleton(FIXTURE, "grid");
  const rows = flow.skeleton![1]!;
  assert.ok(rows.kind === "loop" && rows.body[0]!.kind === "loop");
  assert.equal(rows.label, "rows", "the loop `break rows` leaves");
  assert.equal(rows.body[0]!.label, undefined);
  assert.deepEqual(shape, [
    "c1 increment",
    {
      "for (let i = 0; i < n; i++)": [{
        "for-of (const j of [1, 2, 3])": [
          { "if (j === 2)": ["continue"], else: [] },
          "c2 multiply",
          "c3 add ← c1 c2 c3",
          "wait(c3)",
          { "if ((yield* wait(total)) > 100)": ["break rows"], else: [] },
        ],
        carries: "total",
      }],
      carries: "total",
    },
    "return",
  ]);
});

Deno.test("try/catch/finally, an unexported task under another name, an early return", async () => {
  assert.deepEqual((await skeleton(FIXTURE, "guarded")).shape, [{
    try: ["c1 check", "wait(c1)", "return"],
    catch: ["c2 increment", "wait(c2)", "return"],
    finally: ["c3 cleanup"],
  }]);
  assert.deepEqual((await skeleton(FIXTURE, "early")).shape, [
    "c1 check",
    "wait(c1)",
    { "if ((yield* wait(checked)) === 0)": ["return"], else: [] },
    "c2 multiply ← c1",
    "wait(c2)",
    "return",
  ]);
});

Deno.test("for…of over handles made by a map, then all", async () => {
  assert.deepEqual((await skeleton(FIXTURE, "fanOut")).shape, [
    { "each (xs.map)": ["c1 increment"] },
    { "for-of (const h of handles)": ["c2 add ← c1"], carries: "sums" },
    "all(c2)",
    "return",
  ]);
});

Deno.test("nested flows are calls of workflows, each with its own skeleton", async () => {
  const { shape, flow } = await skeleton(FIXTURE, "outer");
  assert.deepEqual(shape, ["c1 grid", "c2 early ← c1", "wait(c2)", "return"]);
  assert.deepEqual(flow.calls, [
    { kind: "workflow", name: "early" },
    { kind: "workflow", name: "grid" },
  ]);
});

Deno.test("helper functions of the module are followed", async () => {
  assert.deepEqual((await skeleton(FIXTURE, "helped")).shape, [
    "c1 increment",
    { "helper double": ["c2 multiply ← c1"] },
    { "helper triple": ["c3 multiply ← c2"] },
    "return",
  ]);
});

Deno.test("a call through a variable and a helper of another module are unknown, never guessed", async () => {
  const chooser = await skeleton(FIXTURE, "chooser");
  assert.deepEqual(chooser.shape, ["unknown op(x, 1): a call through the variable 'op'", "return"]);
  assert.equal(chooser.flow.callsFrom, "module");
  assert.equal(chooser.flow.calls.length, 7, "every task of the module");
  const foreign = await skeleton(FIXTURE, "foreign");
  assert.deepEqual(foreign.shape, [
    "unknown twice(x): 'twice' is a function of another module, which is not followed",
    "c1 increment",
    "return",
  ]);
});

Deno.test("a module with an enum and a decorator is transformed, and its zones keep the lines as written", async () => {
  const script = "tests/fixtures/skeleton/transformed.ts";
  const lines = (zones: readonly SkeletonZone[]): string[] =>
    zones.flatMap((z) => [
      `${z.kind} ${z.line}`,
      ...(z.kind === "loop" ? [...lines(z.test), ...lines(z.body)] : []),
      ...(z.kind === "branch" ? [...lines(z.then), ...lines(z.else)] : []),
    ]);
  const decorated = await skeleton(script, "decorated");
  assert.deepEqual(decorated.shape, [
    "c1 step",
    "wait(c1)",
    { "if ((yield* wait(out)) > 3)": ["c2 step ← c1"], else: [] },
    "return",
  ]);
  assert.deepEqual(lines(decorated.flow.skeleton!), [
    "call 20",
    "wait 21",
    "branch 21",
    "call 22",
    "exit 24",
  ]);
  const plain = await skeleton(script, "plain");
  assert.deepEqual(lines(plain.flow.skeleton!), [
    "call 31",
    "loop 32",
    "wait 32",
    "call 33",
    "exit 35",
  ]);
});

Deno.test("a call of a global is plain unless the script replaced the global while it loaded", async () => {
  assert.deepEqual((await skeleton("tests/fixtures/skeleton/globals.ts", "globals")).shape, [
    "unknown atob(b): 'atob' is a function of another module, which is not followed",
    "unknown structuredClone(x): 'structuredClone' is a function of another module, which is not followed",
    `unknown onunload?.(new Event("unload")): 'onunload' is a function of another module, which is not followed`,
    "c1 inc",
    "return",
  ]);
});

Deno.test("imports by name and through a namespace, a switch with a fall-through, TypeScript types", async () => {
  assert.deepEqual((await skeleton(FIXTURE, "crawl")).shape, [
    "c1 fetchPage",
    {
      "switch (mode)": [
        { '"parse"': ["c2 parse ← c1", "return"] },
        { '"both" ↓': ["c3 parse ← c1"] },
        { default: ["return"] },
      ],
    },
  ]);
});

Deno.test("a call with overrides (entity.with) is a call of the entity", async () => {
  assert.deepEqual((await skeleton(FIXTURE, "overridden")).shape, ["c1 add", "wait(c1)", "return"]);
});

Deno.test("mapTask(entity, options)(list) is a call of the entity, with overrides too; after() gives its first handle", async () => {
  const inline = await skeleton(FIXTURE, "mappedInline");
  assert.deepEqual(inline.shape, [
    "c1 multiply",
    "c2 increment",
    "c3 add",
    "c4 add ← c2",
    "all(c3 c4)",
    "return",
  ]);
  assert.equal(inline.flow.callsFrom, "skeleton");
  assert.deepEqual(inline.flow.calls.map((c) => c.name), ["add", "increment", "multiply"]);
  const later = await skeleton(FIXTURE, "mappedLater");
  assert.deepEqual(later.shape, [
    "unknown perElement(xs): a call through the variable 'perElement'",
    "wait()",
    "return",
  ]);
});

Deno.test("an entity called through Function.prototype.call is unknown, and the reason says so", async () => {
  assert.deepEqual((await skeleton(FIXTURE, "viaCall")).shape, [
    "unknown add.call(null, x, 1): a call through Function.prototype.call, which is not followed; call it directly",
    "wait()",
    "return",
  ]);
});

Deno.test("do…while, a conditional expression and a call behind &&", async () => {
  assert.deepEqual((await skeleton(FIXTURE, "dow")).shape, [
    "c1 increment",
    {
      "do ((yield* wait(n)) < 10)": [{
        "if (flag)": ["c2 add ← c1 c2 c3"],
        else: ["c3 multiply ← c1 c2 c3"],
      }],
      test: ["wait(c2 c3)"],
      carries: "n",
    },
    { "if (flag)": ["c4 cleanup"], else: [] },
    "return",
  ]);
});

Deno.test("weft run grants only the tasks a flow calls: 2 of the module's 5", async () => {
  const out = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "run",
    "tests/fixtures/skeleton/perms.ts",
    "two",
    "--store",
    "memory",
    // One process holding the union: what the plan grants the run as a whole.
    "--no-isolate",
  ]);
  assert.equal(out.code, 0, out.stderr);
  // What the process running the tasks was granted, as Deno reports it.
  assert.deepEqual(JSON.parse(out.stdout), [["WEFT_T1", "WEFT_T2"], ["WEFT_T1", "WEFT_T2"]]);
  assert.match(out.stderr, /grant env\s+WEFT_T1, WEFT_T2\s+← t1, t2\n/);
  // By default each task holds only its own.
  const own = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "run",
    "tests/fixtures/skeleton/perms.ts",
    "two",
    "--store",
    "memory",
  ]);
  assert.equal(own.code, 0, own.stderr);
  assert.deepEqual(JSON.parse(own.stdout), [["WEFT_T1"], ["WEFT_T2"]]);
});

Deno.test("weft run falls back to the module's tasks for an unknown call, naming its line", async () => {
  const out = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "run",
    "tests/fixtures/skeleton/perms.ts",
    "any",
    "--input",
    "which=1",
    "--store",
    "memory",
    "--no-isolate",
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), ["WEFT_T1", "WEFT_T2", "WEFT_T3", "WEFT_T4", "WEFT_T5"]);
  assert.match(
    out.stderr,
    /weft: flow 'any' may call anything from perms\.ts:37 \(`pick\(\)`: a call through the variable 'pick'\), so it is granted every task of its module/,
  );
});

Deno.test("weft run checks tasks: against the skeleton: a task listed but never called, one called but not listed", async () => {
  const out = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "run",
    "tests/fixtures/skeleton/perms.ts",
    "listed",
    "--store",
    "memory",
    "--no-isolate",
  ]);
  // tasks: still decides: t3 and t4 are granted, and t1, called but not
  // listed, fails at once saying why instead of running without its grant.
  assert.equal(out.code, 1, out.stderr);
  assert.match(out.stderr, /weft: grant env\s+WEFT_T3, WEFT_T4\s+← t3, t4\n/);
  assert.match(
    out.stderr,
    /Task 't1' \(node 't1'\) declares env permissions, but this run was not granted them: .* 'listed' called 't1', which is not one of them; add it to the tasks: option of the flow that calls it/,
  );
  assert.match(out.stderr, /✓ t3/);
  assert.match(
    out.stderr,
    /weft: warning: flow 'listed' calls task 't1' \(line 42\), which its tasks: option does not list/,
  );
  assert.match(
    out.stderr,
    /weft: warning: flow 'listed' lists task 't4' in its tasks: option but never calls it/,
  );
});

/** The modules a module loads statically (following only static imports). */
async function staticGraph(entry: string): Promise<string[]> {
  const out = await deno(["info", "--json", `${ROOT}/${entry}`]);
  assert.equal(out.code, 0, out.stderr);
  const info = JSON.parse(out.stdout) as {
    modules: {
      specifier: string;
      dependencies?: { isDynamic?: boolean; code?: { specifier?: string } }[];
    }[];
  };
  const byUrl = new Map(info.modules.map((m) => [m.specifier, m]));
  const loaded = new Set<string>();
  const stack = [`file://${ROOT}/${entry}`];
  while (stack.length > 0) {
    const url = stack.pop()!;
    if (loaded.has(url)) continue;
    loaded.add(url);
    for (const d of byUrl.get(url)?.dependencies ?? []) {
      if (!d.isDynamic && d.code?.specifier !== undefined) stack.push(d.code.specifier);
    }
  }
  return [...loaded].map((u) => u.replace(`file://${ROOT}/`, ""));
}

Deno.test("the parser is loaded only to compile a flow: never by importing mod.ts, never by a run", async () => {
  for (const entry of ["mod.ts", "src/cli/run_child.ts", "src/cli/run.ts"]) {
    const graph = await staticGraph(entry);
    assert.ok(graph.length > 3, entry);
    for (const m of graph) {
      assert.ok(!/meriyah|src\/ir\/skeleton\//.test(m), `${entry} loads ${m}`);
    }
  }
  // The compile child does load it, through a literal dynamic import in weft's graph.
  const info = await deno(["info", "--json", `${ROOT}/mod.ts`]);
  assert.match(info.stdout, /src\/ir\/skeleton\/extract\.ts/);
});

Deno.test("a module's TypeScript stripped by the compile parent is what is parsed, its lines mapped as when stripped in the child", async () => {
  const { parseModule } = await import("../src/ir/skeleton/parse.ts");
  const { loadStripper, stripTypes } = await import("../src/ir/skeleton/strip.ts");
  // An enum cannot be blanked out: the module is transformed, with a source map.
  const text =
    "enum E {\n  A,\n  B,\n}\nconst x: number = E.B;\nexport function* g() {\n  yield x;\n}\n";
  const url = "file:///m.ts";
  const given = stripTypes(await loadStripper(), text);
  assert.ok(!("error" in given) && given.mappings !== undefined);
  const fromParent = await parseModule(url, text, given);
  const here = await parseModule(url, text);
  assert.ok(!("error" in fromParent) && !("error" in here));
  assert.equal(fromParent.code, given.code);
  const lines = (p: typeof here) => {
    const parsed = p as Exclude<typeof here, { error: string }>;
    const body =
      (parsed.program as unknown as { body: Parameters<typeof parsed.lineOf>[0][] }).body;
    return body.map((n) => parsed.lineOf(n));
  };
  assert.deepEqual(lines(fromParent), lines(here));
  assert.equal(lines(fromParent).at(-1), 6);
  // What the parent could not strip is the module's error, not stripped again.
  assert.deepEqual(await parseModule(url, text, { error: "from the parent" }), {
    error: "from the parent",
  });
});
