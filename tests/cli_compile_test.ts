// `weft compile`, `weft inspect` and `weft schema` as a user runs them: in a
// subprocess, checking stdout, stderr and the exit code.

import assert from "node:assert/strict";
import { parse as parseYaml } from "npm:yaml@2.8.1";
import { DAG_FORMATS, DAG_SCHEMA } from "../ir.ts";
import { DENO, deno, ROOT, runCommand, tempDir } from "./_helpers.ts";

function weft(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], options);
}

/** Asserts a usage or input error: exit 2, one line on stderr, no stack trace. */
function assertBadInput(out: { code: number; stdout: string; stderr: string }, message: RegExp) {
  assert.equal(out.code, 2, `exit code; stderr: ${out.stderr}`);
  assert.equal(out.stdout, "");
  const lines = out.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${out.stderr}`);
  assert.match(lines[0]!, /^weft: /);
  assert.match(lines[0]!, message);
  assert.ok(!/\n\s+at /.test(out.stderr), `no stack trace: ${out.stderr}`);
}

Deno.test("weft compile prints byte-identical output across runs, in every format", async () => {
  for (
    const script of ["examples/regression.ts", "examples/aiida_flows.ts", "tests/_dag_fixture.ts"]
  ) {
    for (const format of DAG_FORMATS) {
      const [a, b] = await Promise.all([
        weft(["compile", script, "--format", format]),
        weft(["compile", script, "--format", format]),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.ok(a.stdout.length > 100, `${script} ${format}`);
      assert.equal(a.stdout, b.stdout, `${script} as ${format} differs between runs`);
    }
  }
});

Deno.test("weft compile formats: JSON and YAML are one document; DOT, Mermaid and HTML are drawings of it", async () => {
  const json = await weft(["compile", "examples/regression.ts"]);
  const yaml = await weft(["compile", "examples/regression.ts", "--format", "yaml"]);
  assert.deepEqual(parseYaml(yaml.stdout), JSON.parse(json.stdout));
  const dot = await weft(["compile", "examples/regression.ts", "--format", "dot"]);
  assert.match(dot.stdout, /^digraph weft \{$/m);
  const mermaid = await weft(["compile", "examples/regression.ts", "--format", "mermaid"]);
  assert.match(mermaid.stdout, /^flowchart LR$/m);
  const html = await weft(["compile", "examples/regression.ts", "--format", "html"]);
  assert.match(html.stdout, /^<!doctype html>/);
  assert.ok(
    !/<(script|link|img)[^>]+(src|href)=/i.test(html.stdout),
    "nothing loaded from elsewhere",
  );
  assert.match(html.stdout, /Content-Security-Policy" content="default-src 'none'/);
});

Deno.test("weft compile --workflow keeps one workflow and what it uses; --out writes a file", async () => {
  await using tmp = await tempDir();
  const out = await weft([
    "compile",
    "tests/_dag_fixture.ts",
    "--workflow",
    "pipeline",
    "--out",
    `${tmp.dir}/pipeline.json`,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, "");
  const dag = JSON.parse(await Deno.readTextFile(`${tmp.dir}/pipeline.json`));
  assert.deepEqual(dag.workflows.map((w: { name: string }) => w.name), [
    "addUp",
    "pipeline",
    "summarise",
  ]);
  assert.deepEqual(dag.launchPlans.map((l: { name: string }) => l.name), ["summarise_daily"]);
  assert.deepEqual(dag.tasks.map((t: { name: string }) => t.name), [
    "describe",
    "scale",
    "stats",
    "total",
  ]);
  // By export name too.
  const byExport = await weft(["compile", "examples/regression.ts", "--workflow", "imperative"]);
  assert.deepEqual(
    JSON.parse(byExport.stdout).workflows.map((w: { name: string }) => w.name),
    ["imperative_workflow"],
  );
});

Deno.test("weft compile shows flows as dynamic, with the tasks they may call", async () => {
  const out = await weft(["compile", "tests/_dag_fixture.ts"]);
  const dag = JSON.parse(out.stdout);
  const byName = (n: string) => dag.workflows.find((w: { name: string }) => w.name === n);
  assert.deepEqual(byName("crawl").calls, [{ kind: "task", name: "fetchText" }]);
  assert.equal(byName("crawl").kind, "dynamic");
  assert.ok(!("nodes" in byName("crawl")));
  assert.equal(byName("crawl").callsFrom, "tasks");
  // Without tasks: what its skeleton calls, here nothing.
  assert.deepEqual(byName("anything").calls, []);
  assert.equal(byName("anything").callsFrom, "skeleton");
  assert.deepEqual(byName("anything").skeleton, [
    { kind: "exit", exit: "return", from: [], line: 64 },
  ]);
});

Deno.test("weft compile: a flow whose skeleton has an unknown call may call every task of its module", async () => {
  const out = await weft(["compile", "tests/fixtures/skeleton/perms.ts", "--workflow", "any"]);
  assert.equal(out.code, 0, out.stderr);
  const [flow] = JSON.parse(out.stdout).workflows;
  assert.equal(flow.callsFrom, "module");
  assert.deepEqual(flow.calls.map((c: { name: string }) => c.name), ["t1", "t2", "t3", "t4", "t5"]);
  assert.deepEqual(flow.skeleton[0], {
    kind: "unknown",
    source: "pick()",
    reason: "a call through the variable 'pick'",
    line: 37,
  });
});

Deno.test("weft compile exits 2 with one line and no stack for bad input", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/broken.ts`, "export const x = (;\n");
  assertBadInput(
    await weft(["compile", `${tmp.dir}/broken.ts`]),
    /broken\.ts does not parse/,
  );
  assertBadInput(
    await weft(["compile", `${tmp.dir}/missing.ts`]),
    /No such script: .*missing\.ts/,
  );
  assertBadInput(
    await weft(["compile", "examples/regression.ts", "--workflow", "nope"]),
    /exports no workflow named 'nope'; it exports imperative \(imperative_workflow\), intercept, regression, slope/,
  );
  assertBadInput(
    await weft(["compile", "examples/regression.ts", "--format", "png"]),
    /unknown format 'png'; use one of json, yaml, dot, mermaid, html/,
  );
  assertBadInput(await weft(["compile"]), /give exactly one SCRIPT/);
  assertBadInput(
    await weft(["compile", "examples/regression.ts", "--colour"]),
    /Unknown option '--colour'/,
  );
  // --verbose adds the stack.
  const verbose = await weft(["compile", `${tmp.dir}/broken.ts`, "--verbose"]);
  assert.equal(verbose.code, 2);
  assert.ok(verbose.stderr.trimEnd().split("\n").length > 1);
});

async function sideEffect(body: string) {
  await using tmp = await tempDir();
  const script = `${tmp.dir}/effect.ts`;
  await Deno.writeTextFile(
    script,
    `import { task } from "${ROOT}/mod.ts";\n${body}\nexport const t = task(function t() { return 1; });\n`,
  );
  return { out: await weft(["compile", script], { cwd: tmp.dir }), dir: tmp.dir };
}

Deno.test("a script whose top level touches the world fails to compile, and the action never happens", async (t) => {
  await t.step("reading a file", async () => {
    const { out } = await sideEffect(`Deno.readTextFileSync("${ROOT}/deno.json");`);
    assertBadInput(
      out,
      /wanted read access to ".*deno\.json".*top-level side effects belong in tasks/,
    );
  });
  await t.step("writing a file", async () => {
    await using tmp = await tempDir();
    const marker = `${tmp.dir}/written.txt`;
    const { out } = await sideEffect(`Deno.writeTextFileSync(${JSON.stringify(marker)}, "x");`);
    assertBadInput(
      out,
      /wanted write access to ".*written\.txt".*top-level side effects belong in tasks/,
    );
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  });
  await t.step("reaching the network", async () => {
    let hits = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      hits++;
      return new Response("hi");
    });
    try {
      const { port } = server.addr as Deno.NetAddr;
      const { out } = await sideEffect(`await fetch("http://127.0.0.1:${port}/");`);
      assertBadInput(
        out,
        new RegExp(
          `wanted net access to "127\\.0\\.0\\.1:${port}".*top-level side effects belong in tasks`,
        ),
      );
      assert.equal(hits, 0, "the server was never reached");
    } finally {
      await server.shutdown();
    }
  });
  await t.step("reading the environment", async () => {
    const { out } = await sideEffect(`console.log(Deno.env.get("HOME"));`);
    assertBadInput(out, /wanted env access to "HOME".*top-level side effects belong in tasks/);
  });
  await t.step("running a process", async () => {
    await using tmp = await tempDir();
    const marker = `${tmp.dir}/ran.txt`;
    const { out } = await sideEffect(
      `new Deno.Command("touch", { args: [${JSON.stringify(marker)}] }).outputSync();`,
    );
    assertBadInput(out, /wanted run access to "touch".*top-level side effects belong in tasks/);
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
  });
});

Deno.test("weft inspect lists inputs, tasks in topological order, their permissions and the union", async () => {
  const out = await weft(["inspect", "tests/_dag_fixture.ts", "--workflow", "summarise"]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(
    out.stdout,
    `tests/_dag_fixture.ts: 1 workflow, 4 tasks

workflow summarise (static; _dag_fixture.ts:44)
  inputs:
    values: number[]
    label: string = "sum"
  outputs:
    text ← describe.o0
    total ← total.o0
  tasks, in topological order:
    1. scale     task scale     permissions: read: ./data
    2. stats     task stats     permissions: none
    3. total     task total     permissions: none
    4. describe  task describe  permissions: none
  permissions needed: read: ./data

permissions of all 4 tasks (union): read: ./data
`,
  );
  const all = await weft(["inspect", "tests/_dag_fixture.ts"]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^flow crawl \(dynamic; _dag_fixture\.ts:\d+\)$/m);
  assert.match(
    all.stdout,
    /skeleton \(from its source; its graph grows at run time\):\n {4}fetchText, wait\(fetchText\), return\n {2}it may call \(its tasks: option\):\n {4}fetchText {2}task fetchText {2}permissions: net: example\.com:443; env: TOKEN/,
  );
  assert.match(
    all.stdout,
    /^workflow xss<\/script><script>alert\(2\)<\/script> \(static; export hostile;/m,
  );
  assert.match(
    all.stdout,
    /1\. summarise {8}workflow summarise {11}permissions: read: \.\/data \(of its tasks\)/,
  );
  assert.match(all.stdout, /3\. addUp {12}flow addUp {19}permissions: none \(of its tasks\)/);
  assert.match(
    all.stdout,
    /\npermissions of all 7 tasks \(union\): read: \.\/data; net: example\.com:443; env: TOKEN\n$/,
  );
  assertBadInput(
    await weft(["inspect", "tests/_dag_fixture.ts", "--workflow", "x"]),
    /exports no workflow named 'x'/,
  );
});

Deno.test("weft schema prints the JSON Schema that mod.ts exports", async () => {
  const out = await weft(["schema"]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), DAG_SCHEMA);
  assertBadInput(await weft(["schema", "extra"]), /schema: takes no arguments/);
});

Deno.test("every command has --help, and weft has --version", async () => {
  for (const command of ["compile", "inspect", "schema"]) {
    const out = await weft([command, "--help"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^Usage: weft ${command}`));
  }
  const compileHelp = await weft(["compile", "--help"]);
  assert.match(compileHelp.stdout, /json \| yaml \| dot \| mermaid \| html/);
  const version = await weft(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^weft \d+\.\d+\.\d+/);
  const help = await weft(["--help"]);
  for (const command of ["compile", "inspect", "schema"]) {
    assert.match(help.stdout, new RegExp(`^ {2}${command} `, "m"));
  }
});

Deno.test("deno install -g -A -n weft ./cli.ts installs a weft command that compiles", async () => {
  await using tmp = await tempDir();
  const install = await deno(["install", "-g", "-A", "-n", "weft", "--root", tmp.dir, "./cli.ts"]);
  assert.equal(install.code, 0, install.stderr);
  const env = { PATH: `${DENO.replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}` };
  const version = await runCommand(`${tmp.dir}/bin/weft`, ["--version"], { env, cwd: tmp.dir });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^weft \d/);
  const out = await runCommand(
    `${tmp.dir}/bin/weft`,
    ["compile", `${ROOT}/examples/regression.ts`, "--workflow", "regression", "--format", "dot"],
    { env, cwd: tmp.dir },
  );
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^digraph weft \{$/m);
});

Deno.test("weft inspect shows a flow's skeleton as an outline: the seed loop is one line", async () => {
  const out = await weft(["inspect", "examples/aiida_flows.ts", "--workflow", "keepDoubling"]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    / {2}skeleton \(from its source; its graph grows at run time\):\n {4}add\n {4}while \(wait\(out\) < 10\): add → multiply\n {4}return\n {2}it calls:\n/,
  );
  const branch = await weft(["inspect", "examples/aiida_flows.ts", "--workflow", "addMultiplyIf"]);
  assert.match(
    branch.stdout,
    / {4}add, wait\(add\)\n {4}if \(wait\(sum\) > 0\): multiply, return\n {4}else: add, return\n/,
  );
  const unknown = await weft(["inspect", "tests/fixtures/skeleton/perms.ts", "--workflow", "any"]);
  assert.match(
    unknown.stdout,
    / {4}\? pick\(\) {2}\(line 37: a call through the variable 'pick'\)\n[^]*it may call \(its skeleton has an unknown call: every task of its module\):/,
  );
});
