// Workflows from a textual spec (weft.workflow/v1): built with the Workflow
// builder, the same graph as code; maps, conditionals, ordering, overrides
// and failure handling; every mistake one line with its line number; and
// `weft compile` / `weft run` of a YAML file.

import assert from "node:assert/strict";
import { run, Workflow, workflowFromSpec } from "../mod.ts";
import { fromDag, toDag, validateDag } from "../ir.ts";
import * as tasks from "./fixtures/spec_tasks.ts";
import { deno, ROOT, tempDir } from "./_helpers.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";
import { startWeft, until } from "./_workers.ts";
import { PostgresStore } from "../src/store/postgres/mod.ts";

const MODULES = { "./spec_tasks.ts": tasks };

function spec(body: string): string {
  return `format: weft.workflow/v1\n${body}`;
}

async function build(body: string): Promise<Workflow> {
  return await workflowFromSpec(spec(body), MODULES, { file: "p.yaml" });
}

Deno.test("a spec builds the graph the builder builds from code", async () => {
  const wf = await build(`name: calc
inputs:
  x: number
  y: { type: number, default: 1 }
nodes:
  add:
    task: ./spec_tasks.ts#add
    with: { a: $double, b: $inputs.y }
  double:
    task: ./spec_tasks.ts#double
    with: { n: $inputs.x }
outputs:
  total: $add
`);
  const code = new Workflow("calc");
  const x = code.addInput("x", "number");
  code.addInput("y", "number", { default: 1 });
  const d = code.addEntity(tasks.double, { n: x });
  code.addOutput("total", code.addEntity(tasks.add, { a: d, b: code.inputs.y }));
  const fromSpec = wf.graph.workflows[0]!;
  const fromCode = code.graph.workflows[0]!;
  assert.ok(fromSpec.kind === "static" && fromCode.kind === "static");
  // Listed in any order, the nodes are added after what they use.
  assert.deepEqual(fromSpec.nodes, fromCode.nodes);
  assert.deepEqual(fromSpec.edges, fromCode.edges);
  assert.deepEqual(fromSpec.inputs, fromCode.inputs);
  assert.deepEqual(fromSpec.outputs, fromCode.outputs);
  assert.deepEqual(fromSpec.source, { file: "p.yaml", line: 2 });
  assert.equal(await wf.execute({ x: 20 }), 41);
  assert.equal(await wf.execute({ x: 20, y: 2 }), 42);
});

Deno.test("a spec maps, branches, orders and overrides; the IR holds it and loads back", async () => {
  const wf = await build(`name: controls
inputs:
  xs: number[]
  limit: number
nodes:
  squares:
    task: ./spec_tasks.ts#square
    map: { over: n, concurrency: 2 }
    with: { n: $inputs.xs }
  evens:
    task: ./spec_tasks.ts#evenOnly
    map: { minSuccessRatio: 0.5 }
    with: { n: $inputs.xs }
  total:
    task: ./spec_tasks.ts#sum
    with: { values: $squares }
    retries: 3
    timeout: 30s
    cache: false
    queue: gpu
  evenTotal:
    task: ./spec_tasks.ts#sum
    with: { values: $evens }
    after: [total]
  check:
    if: { and: [{ gt: [$total, $inputs.limit] }, { not: { eq: [$evenTotal, 0] } }] }
    then:
      nodes:
        big: { task: ./spec_tasks.ts#double, with: { n: $total } }
      result: { value: $big, label: big }
    else:
      result: { value: $total, label: $$small }
  shout:
    task: ./spec_tasks.ts#echo
    with: { message: [$check.label, { at: $check.value }, "$$literal"] }
outputs:
  shout: $shout
  evens: $evens
`);
  assert.deepEqual(await wf.execute({ xs: [1, 2, 3, 4], limit: 10 }), {
    shout: ["big", { at: 60 }, "$literal"],
    evens: [null, 2, null, 4],
  });
  assert.deepEqual(await wf.execute({ xs: [1, 2], limit: 10 }), {
    shout: ["$small", { at: 5 }, "$literal"],
    evens: [null, 2],
  });
  const r = await run(wf, { xs: [1, 2], limit: 10 });
  assert.deepEqual(
    r.graph.nodes.filter((n) => n.id.startsWith("check")).map((n) => `${n.id}:${n.status}`),
    ["check:succeeded", "check/big:skipped"],
  );

  const doc = wf.graph;
  await validateDag(doc);
  const ir = doc.workflows[0]!;
  assert.ok(ir.kind === "static");
  const byId = new Map(ir.nodes.map((n) => [n.id, n as unknown as Record<string, unknown>]));
  assert.deepEqual(byId.get("squares")!.map, {
    over: ["n"],
    concurrency: 2,
    minSuccessRatio: 1,
    name: "squares",
  });
  assert.deepEqual(byId.get("evens")!.map, {
    over: ["n"],
    concurrency: null,
    minSuccessRatio: 0.5,
    name: "evens",
  });
  assert.deepEqual(byId.get("total")!.overrides, {
    name: "total",
    retries: 3,
    timeoutMs: 30_000,
    cache: false,
    queue: "gpu",
  });
  assert.deepEqual(byId.get("evenTotal")!.after, ["total"]);
  assert.ok("if" in byId.get("check")!);

  const loaded = await fromDag(JSON.stringify(doc), [
    tasks.square,
    tasks.evenOnly,
    tasks.sum,
    tasks.double,
    tasks.echo,
  ]);
  const again = toDag([loaded]).workflows[0]!;
  assert.ok(again.kind === "static");
  assert.deepEqual(again.nodes, ir.nodes);
  assert.deepEqual(again.edges, ir.edges);
});

Deno.test("a spec's onFailure, failurePolicy and timeout are the workflow's", async () => {
  tasks.seen.length = 0;
  const wf = await build(`name: guarded
onFailure: ./spec_tasks.ts#handler
failurePolicy: fail-fast
timeout: 1h
inputs: { n: number }
nodes:
  check: { task: ./spec_tasks.ts#evenOnly, with: { n: $inputs.n } }
  inner: { task: ./spec_tasks.ts#inner, with: { n: $check } }
outputs: { o: $inner }
`);
  const ir = wf.graph.workflows[0]!;
  assert.ok(ir.kind === "static");
  assert.equal(ir.failurePolicy, "fail-fast");
  assert.equal(ir.timeoutMs, 3_600_000);
  assert.equal(ir.onFailure?.name, "handler");
  assert.equal(await wf.execute({ n: 4 }), 8);
  await assert.rejects(wf.execute({ n: 3 }), /3 is odd/);
  assert.equal(tasks.seen.length, 1);
  const seen = tasks.seen[0] as { message: string; inputs: unknown };
  assert.match(seen.message, /node 'check'.*3 is odd/);
  assert.deepEqual(seen.inputs, { n: 3 });
});

Deno.test("a spec written as JSON reads the same, with its line numbers", async () => {
  const text = JSON.stringify(
    {
      format: "weft.workflow/v1",
      name: "json",
      inputs: { x: "number" },
      nodes: { double: { task: "./spec_tasks.ts#double", with: { n: "$inputs.x" } } },
      outputs: { o: "$double" },
    },
    null,
    2,
  );
  const wf = await workflowFromSpec(text, MODULES, { file: "p.json" });
  assert.equal(await wf.execute({ x: 4 }), 8);
  await assert.rejects(
    workflowFromSpec(
      text.replace('"#double"', '"#double"').replace("$inputs.x", "$inputs.y"),
      MODULES,
      {
        file: "p.json",
      },
    ),
    { message: "p.json:11: there is no input 'y'; the inputs are x" },
  );
});

/** A mistake, the line it is on, and what the message says. */
type Mistake = [what: string, body: string, message: string];

const OK_NODE = "  a: { task: ./spec_tasks.ts#double, with: { n: 1 } }";

const MISTAKES: Mistake[] = [
  [
    "no format",
    "name: x\nnodes:\n" + OK_NODE,
    "p.yaml:1: the document must say format: weft.workflow/v1",
  ],
  [
    "a YAML syntax error",
    `format: weft.workflow/v1\nname: x\nnodes:\n  a: [1, 2`,
    "p.yaml:4: not valid YAML:",
  ],
  [
    "a duplicate node",
    `${spec("name: x\nnodes:\n" + OK_NODE + "\n" + OK_NODE)}`,
    "p.yaml:5: not valid YAML: Map keys must be unique",
  ],
  [
    "an unknown top-level key",
    spec("name: x\nnode:\n" + OK_NODE),
    "p.yaml:3: unknown key 'node' in the document; its keys are",
  ],
  ["no nodes", spec("name: x\n"), "p.yaml:1: the document has no nodes"],
  [
    "an unknown node key",
    spec("name: x\nnodes:\n  a:\n    task: ./spec_tasks.ts#double\n    retry: 3"),
    "p.yaml:6: unknown key 'retry' in node 'a'; its keys are task, with, after, map",
  ],
  [
    "a task without #export",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts }"),
    "p.yaml:4: the task of node 'a' must be ./module.ts#exportName, not './spec_tasks.ts'",
  ],
  [
    "an unknown export",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts#tripple }"),
    "p.yaml:4: ./spec_tasks.ts has no export 'tripple'; its tasks, workflows and flows are add,",
  ],
  [
    "a plain function",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts#plain, with: { n: 1 } }"),
    "p.yaml:4: ./spec_tasks.ts#plain is a plain function, not a task, workflow or flow; wrap it with task()",
  ],
  [
    "an unknown input of the task",
    spec(
      "name: x\nnodes:\n  a:\n    task: ./spec_tasks.ts#double\n    with:\n      n: 1\n      m: 2",
    ),
    "p.yaml:8: task 'double' has no input 'm'; its inputs are n",
  ],
  [
    "a missing input",
    spec("name: x\nnodes:\n  a:\n    task: ./spec_tasks.ts#add\n    with: { a: 1 }"),
    "p.yaml:6: node 'a' does not bind 'b' of task 'add'; add b: … under with:",
  ],
  [
    "an unknown workflow input",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts#double, with: { n: $inputs.n } }"),
    "p.yaml:4: there is no input 'n'; declare it under inputs:",
  ],
  [
    "an unused input",
    spec("name: x\ninputs:\n  n: number\nnodes:\n" + OK_NODE),
    "p.yaml:4: input 'n' is not used by any node or output",
  ],
  [
    "an unknown node",
    spec("name: x\nnodes:\n" + OK_NODE + "\noutputs:\n  o: $b"),
    "p.yaml:6: there is no node 'b'; the nodes here are a",
  ],
  [
    "a bad reference",
    spec("name: x\nnodes:\n" + OK_NODE + "\noutputs:\n  o: $a.b.c"),
    "p.yaml:6: '$a.b.c' in output 'o' is not a reference: write $inputs.NAME, $NODE or $NODE.OUTPUT",
  ],
  [
    "an unknown output",
    spec("name: x\nnodes:\n" + OK_NODE + "\noutputs:\n  o: $a.max"),
    "p.yaml:6: node 'a' of workflow 'x' has no output 'max'",
  ],
  [
    "a cycle",
    spec(
      "name: x\nnodes:\n  a: { task: ./spec_tasks.ts#double, with: { n: $b } }\n  b: { task: ./spec_tasks.ts#double, with: { n: $a } }",
    ),
    "p.yaml:4: nodes a → b → a depend on each other (a cycle)",
  ],
  [
    "a node that uses itself",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts#double, with: { n: $a } }"),
    "p.yaml:4: node 'a' cannot use itself",
  ],
  [
    "after an unknown node",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts#double, with: { n: 1 }, after: [c] }"),
    "p.yaml:4: there is no node 'c'",
  ],
  [
    "a branch node used outside",
    spec(
      "name: x\ninputs: { n: number }\nnodes:\n  c:\n    if: $inputs.n\n    then:\n      nodes:\n        d: { task: ./spec_tasks.ts#double, with: { n: 1 } }\n      result: $d\noutputs:\n  o: $d",
    ),
    "p.yaml:12: node 'd' is inside the then branch of 'c' and can only be used there; outside, use the result of 'c'",
  ],
  [
    "a branch that uses its condition",
    spec(
      "name: x\ninputs: { n: number }\nnodes:\n  c:\n    if: $inputs.n\n    then:\n      nodes:\n        d: { task: ./spec_tasks.ts#double, with: { n: $c } }",
    ),
    "p.yaml:9: 'd' is inside the branches of 'c' and cannot use its result",
  ],
  [
    "an unknown test",
    spec(
      "name: x\ninputs: { n: number }\nnodes:\n  c:\n    if: { between: [$inputs.n, 1] }\n    then: { result: 1 }",
    ),
    "p.yaml:6: unknown test 'between'; a test is one of",
  ],
  [
    "a comparison of one value",
    spec(
      "name: x\ninputs: { n: number }\nnodes:\n  c:\n    if: { gt: [$inputs.n] }\n    then: { result: 1 }",
    ),
    "p.yaml:6: gt compares two values: { gt: [$a, $b] }",
  ],
  [
    "a constant test",
    spec("name: x\nnodes:\n  c:\n    if: true\n    then: { result: 1 }"),
    "p.yaml:5: the test of an if must use an input or a node",
  ],
  [
    "an if without then",
    spec("name: x\ninputs: { n: number }\nnodes:\n  c:\n    if: $inputs.n"),
    "p.yaml:5: node 'c' has if: but no then:",
  ],
  [
    "a map over an unknown input",
    spec(
      "name: x\nnodes:\n  a:\n    task: ./spec_tasks.ts#double\n    map: { over: [m] }\n    with: { n: [1] }",
    ),
    "p.yaml:6: mapTask(task 'double') maps over input 'm', but its inputs are n",
  ],
  [
    "a bad ratio",
    spec(
      "name: x\nnodes:\n  a:\n    task: ./spec_tasks.ts#double\n    map: { minSuccessRatio: 2 }\n    with: { n: [1] }",
    ),
    "p.yaml:6: minSuccessRatio of node 'a' must be a number from 0 to 1",
  ],
  [
    "negative retries",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts#double, with: { n: 1 }, retries: -1 }"),
    "p.yaml:4: retries of node 'a' must be a whole number of retries, or unlimited",
  ],
  [
    "a bad timeout",
    spec("name: x\ntimeout: soon\nnodes:\n" + OK_NODE),
    "p.yaml:3: Cannot use timeout as it must be milliseconds",
  ],
  [
    "an unknown failure policy",
    spec("name: x\nfailurePolicy: never\nnodes:\n" + OK_NODE),
    "p.yaml:3: failurePolicy must be fail-fast or finish-running",
  ],
  [
    "a bad input name",
    spec("name: x\ninputs:\n  a b: number\nnodes:\n" + OK_NODE),
    "p.yaml:4: 'a b' cannot name an input",
  ],
  [
    "an unknown input type",
    spec(
      "name: x\ninputs:\n  n: nubmer\nnodes:\n  a: { task: ./spec_tasks.ts#double, with: { n: $inputs.n } }",
    ),
    "p.yaml:4: ",
  ],
  [
    "a module not given",
    spec("name: x\nnodes:\n  a: { task: ./other.ts#double, with: { n: 1 } }"),
    "p.yaml:4: no module was given for './other.ts'",
  ],
  [
    "an infinite constant",
    spec("name: x\nnodes:\n  a: { task: ./spec_tasks.ts#double, with: { n: .inf } }"),
    "p.yaml:4: infinite numbers cannot be passed as values",
  ],
  [
    "a merge key",
    spec(
      "name: x\nbase: &b { task: ./spec_tasks.ts#double }\nnodes:\n  a: { <<: *b, with: { n: 1 } }",
    ),
    "p.yaml:5: merge keys (<<) are not supported; write the keys out",
  ],
];

Deno.test("every mistake in a spec is one line that names its line", async () => {
  for (const [what, body, message] of MISTAKES) {
    await assert.rejects(
      workflowFromSpec(body, MODULES, { file: "p.yaml" }),
      (e: Error) => {
        assert.equal(e.name, "ValidationError", `${what}: ${e.stack}`);
        assert.ok(e.message.startsWith(message), `${what}: got ${e.message}`);
        assert.ok(!e.message.includes("\n"), `${what}: ${e.message}`);
        return true;
      },
      what,
    );
  }
});

function weft(args: string[], cwd = ROOT) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], { cwd });
}

Deno.test("weft reports a spec's mistakes with their line, found before or while building", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/tasks.ts`,
    `import { task } from "${ROOT}/mod.ts";\nexport const double = task(function double(n: number) { return 2 * n; });\n`,
  );
  const cases: [string, string][] = [
    [
      "name: x\nnodes:\n  a: { task: ./tasks.ts#tripple, with: { n: 1 } }",
      "weft: p.yaml:4: ./tasks.ts has no export 'tripple'; its tasks, workflows and flows are double\n",
    ],
    [
      "name: x\nnodes:\n  a: { task: ./task.ts#double, with: { n: 1 } }",
      `weft: p.yaml:4: cannot find the module ./task.ts (${tmp.dir}/task.ts)\n`,
    ],
    [
      "name: x\nnodes:\n  a: { task: ./tasks.ts#double, with: { n: $b } }",
      "weft: p.yaml:4: there is no node 'b'; the nodes here are a\n",
    ],
  ];
  for (const [body, message] of cases) {
    await Deno.writeTextFile(`${tmp.dir}/p.yaml`, spec(body));
    for (const command of ["compile", "run"]) {
      const out = await weft(
        [command, "p.yaml", "--store", "memory"].slice(0, command === "run" ? 4 : 2),
        tmp.dir,
      );
      assert.equal(out.code, 2, out.stderr);
      assert.equal(out.stderr, message);
    }
  }
});

Deno.test("a run of a spec is recorded with the spec's path and replays against it", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  const input = ["--input", 'essays=["a b c"]', "--store", store, "--run-id", "spec-run"];
  const ran = await weft(["run", "examples/pipeline.yaml", ...input]);
  assert.equal(ran.code, 0, ran.stderr);
  const replayed = await weft(["replay", "spec-run", "--store", store]);
  assert.equal(replayed.code, 0, replayed.stderr);
});

Deno.test({
  name: "a detached run of a spec is run by a weft worker serving that spec (PostgreSQL)",
  ignore: postgresMissing() !== undefined,
}, async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/tasks.ts`,
    `import { task } from "${ROOT}/mod.ts";\n` +
      `export const double = task(function double(n: number) { return 2 * n; });\n`,
  );
  await Deno.writeTextFile(
    `${tmp.dir}/p.yaml`,
    spec(`name: twice
inputs:
  xs: number[]
nodes:
  doubled: { task: ./tasks.ts#double, map: true, with: { n: $inputs.xs }, queue: math }
outputs: { o: $doubled }
`),
  );
  const url = await (await sharedCluster()).createDatabase("spec");
  const worker = startWeft(["worker", `${tmp.dir}/p.yaml`, "--store", url, "--lease", "1s"]);
  try {
    const detached = startWeft([
      "run",
      `${tmp.dir}/p.yaml`,
      "--input",
      "xs=[1,2,3]",
      "--store",
      url,
      "--detach",
    ]);
    assert.equal((await detached.status).code, 0, detached.stderr());
    const runId = detached.stdout().trim().split(/\s+/).at(-1)!;
    const store = await PostgresStore.open(url);
    try {
      let status = "running";
      await until("the run to finish", async () => {
        status = (await store.getRun(runId).catch(() => undefined))?.status ?? "running";
        return status !== "running";
      });
      const details = (await store.getRun(runId))!;
      assert.equal(
        details.status,
        "succeeded",
        `${JSON.stringify(details.errors)} ${worker.stderr()}`,
      );
      assert.deepEqual(details.outputs, [2, 4, 6]);
      assert.ok(details.script?.endsWith("/p.yaml"), details.script);
    } finally {
      await store.close();
    }
  } finally {
    worker.signal("SIGKILL");
    await worker.status;
  }
});
