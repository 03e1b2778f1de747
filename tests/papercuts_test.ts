// The papercuts of a new user's first hour (issue 13), each held by a test:
// help, flags, inputs, logs in the progress, re-running a succeeded run,
// scripts that export nothing, a flow yielding a task it did not call, and
// the inputs a run records.

import assert from "node:assert/strict";
import { flow, run, task, ValidationError } from "../mod.ts";
import { MemoryStore } from "../store.ts";
import { ProgressView } from "../src/cli/progress.ts";
import { deno, ROOT, tempDir } from "./_helpers.ts";

function weft(args: string[], cwd?: string) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], cwd === undefined ? {} : { cwd });
}

const GREET = `import { task, workflow } from "${ROOT}/mod.ts";
const hello = task(function hello(name: string, times: number) { return name.repeat(times); });
export const greet = workflow(
  { inputs: { name: "string", times: "number" } },
  function greet(name: string, times: number) { return hello(name, times); },
);
`;

Deno.test("weft help run prints run's help, as weft run --help does", async () => {
  const help = await weft(["help", "run"]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, (await weft(["run", "--help"])).stdout);
  assert.match(help.stdout, /^Usage: weft run SCRIPT/);
  assert.match(help.stdout, /-q, --quiet/);
});

Deno.test("a negative --limit is the command's clear error, not parseArgs' 'argument is ambiguous'", async () => {
  const out = await weft(["runs", "--limit", "-1", "--store", "memory"]);
  assert.equal(out.code, 2);
  assert.equal(out.stderr, "weft: runs: --limit must be a positive integer, not '-1'\n");
  const dash = await weft(["runs", "--limit", "-x", "--store", "memory"]);
  assert.match(
    dash.stderr,
    /--limit needs a value; to give one that starts with a dash, write --limit=-VALUE/,
  );
});

Deno.test("weft run inputs: -q is --quiet; a string input given a number, a repeated --input, 1e999 and an unknown YAML tag exit 2 with weft's own line", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/greet.ts`, GREET);
  const script = `${tmp.dir}/greet.ts`;
  const store = ["--store", "memory"];
  const quiet = await weft([
    "run",
    script,
    "--input",
    "name=ab",
    "--input",
    "times=2",
    "-q",
    ...store,
  ]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stdout, '"abab"\n');
  assert.equal(quiet.stderr, "");
  const cases: [string[], RegExp][] = [
    [
      ["--input", "name=5", "--input", "times=2"],
      /^weft: Input 'name' of workflow 'greet' is a string, but --input name=5 reads 5 as JSON \(a number\); quote it to pass the text: --input 'name="5"'\n$/,
    ],
    [
      ["--input", "name=a", "--input", "name=b", "--input", "times=1"],
      /^weft: run: --input name is given twice \(name=a and name=b\); give each input once\n$/,
    ],
    [
      ["--input", "name=a", "--input", "times=1e999"],
      /^weft: --input times=1e999: the number is too large \(it would be read as Infinity\)/,
    ],
  ];
  await Deno.writeTextFile(`${tmp.dir}/tag.yaml`, "name: !foo bar\ntimes: 2\n");
  await Deno.writeTextFile(`${tmp.dir}/big.yaml`, "name: bar\ntimes: 1e999\n");
  await Deno.writeTextFile(`${tmp.dir}/big.json`, '{"name":"bar","times":1e999}');
  cases.push(
    [
      ["--inputs", `${tmp.dir}/tag.yaml`],
      /^weft: --inputs .*tag\.yaml is not valid YAML \(line 1, column 7\): Unresolved tag: !foo; weft reads plain YAML: remove the tag, or quote the value\n$/,
    ],
    [
      ["--inputs", `${tmp.dir}/big.yaml`],
      /^weft: --inputs .*big\.yaml: times: 1e999 is too large for a number/,
    ],
    [
      ["--inputs", `${tmp.dir}/big.json`],
      /^weft: --inputs .*big\.json: times: the number is too large/,
    ],
  );
  for (const [args, pattern] of cases) {
    const out = await weft(["run", script, ...args, ...store]);
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, pattern);
    assert.doesNotMatch(out.stderr, /YAMLWarning/);
  }
});

Deno.test("what tasks log with ctx.log is shown in the plain progress, and re-running a succeeded run id says nothing ran (with --json too)", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/logs.ts`,
    `import { flow, task, type TaskContext, wait } from "${ROOT}/mod.ts";
     import { appendFileSync } from "node:fs";
     const work = task({ name: "work", permissions: { write: ["./ran.log"] } }, (n: number, ctx: TaskContext) => {
       appendFileSync("ran.log", "ran\\n");
       ctx.log(\`working on \${n}\`);
       ctx.log("line a\\nline b");
       return n * 2;
     });
     export const main = flow(async function* main() { return yield* wait(work(21)); });`,
  );
  const args = [
    "run",
    `${tmp.dir}/logs.ts`,
    "--store",
    `sqlite:${tmp.dir}/weft.db`,
    "--run-id",
    "once",
  ];
  const first = await weft(args);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /\nwork: working on 21\nwork: line a\nwork: line b\n✓ work \(/);
  const again = await weft(args);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "42\n");
  assert.match(
    again.stderr,
    /weft: run once already succeeded \(started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\); its recorded result was returned and nothing ran/,
  );
  assert.doesNotMatch(again.stderr, /tasks? done/);
  // With --json, the one event is the recorded result (as the last event of a run that ran is).
  const json = await weft([...args, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events.length, 1, json.stdout);
  assert.equal(events[0].type, "run finished");
  assert.equal(events[0].status, "succeeded");
  assert.equal(events[0].outputs, 42);
  assert.equal(events[0].fromRecord, true);
  assert.equal(await Deno.readTextFile(`${tmp.dir}/ran.log`), "ran\n");
});

Deno.test("the live view prints what tasks log above itself", () => {
  let text = "";
  const view = new ProgressView("live", false, (t) => (text += t));
  const snapshot = {
    startedAt: 0,
    time: 0,
    added: 1,
    succeeded: 0,
    cached: 0,
    failed: 0,
    skipped: 0,
    retries: 0,
    running: [{ id: "work", entity: "work", since: 0, attempt: 1 }],
    runningCount: 1,
    finished: [],
    logs: [{ id: "work", message: "halfway" }],
    logsDropped: 2,
  };
  view.update(snapshot);
  view.finish([]);
  assert.match(text, /^work: halfway\n… 2 more logged lines not shown\n/);
  assert.match(text, /work\s+\d+ms/); // the live view, drawn below the lines
});

Deno.test("weft compile and inspect of a script that exports nothing exit 2 saying what to export; one that exports only tasks lists them", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/nothing.ts`, "export const x = 1;\n");
  await Deno.writeTextFile(
    `${tmp.dir}/hidden.ts`,
    `import { task } from "${ROOT}/mod.ts";\nconst add = task(function add(x: number) { return x; });\nexport const y = 2;\n`,
  );
  await Deno.writeTextFile(
    `${tmp.dir}/tasks.ts`,
    `import { task } from "${ROOT}/mod.ts";
export const add = task({ permissions: { read: ["./data"] } }, function add(x: number, y = 1) { return x + y; });
export const neg = task(function neg(x: number) { return -x; });
`,
  );
  for (const command of ["compile", "inspect"]) {
    const nothing = await weft([command, "nothing.ts"], tmp.dir);
    assert.equal(nothing.code, 2);
    assert.equal(
      nothing.stderr,
      "weft: nothing.ts exports no workflow, flow or task; export what weft should see, such as export const main = workflow(...) or export const add = task(...)\n",
    );
    const hidden = await weft([command, "hidden.ts"], tmp.dir);
    assert.equal(hidden.code, 2);
    assert.match(hidden.stderr, /\(it defines 1 task: add, but does not export it\)/);
  }
  const inspect = await weft(["inspect", "tasks.ts"], tmp.dir);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(
    inspect.stdout,
    /\ntasks \(weft run SCRIPT TASK runs one\):\n {2}add {2}\(x, y\?\) {2}permissions: read: \.\/data {2}tasks\.ts:2\n {2}neg {2}\(x\) {6}permissions: none {2}tasks\.ts:3\n/,
  );
  const compiled = await weft(["compile", "tasks.ts"], tmp.dir);
  assert.equal(compiled.code, 0);
  assert.deepEqual(JSON.parse(compiled.stdout).tasks.map((t: { name: string }) => t.name), [
    "add",
    "neg",
  ]);
});

Deno.test("in a flow, yielding a task itself rather than a call of it is a ValidationError that says to call it", async () => {
  const inc = task(function inc(x: number) {
    return x + 1;
  });
  const store = new MemoryStore();
  for (
    const body of [
      async function* bare() {
        yield inc;
      },
      async function* inArray() {
        yield [inc(1), inc];
      },
    ]
  ) {
    const r = await run(flow(body), {}, { store });
    assert.equal(r.status, "failed");
    assert.ok(r.errors[0] instanceof ValidationError, String(r.errors[0]));
    assert.match(
      r.errors[0]!.message,
      /^Flow '(bare|inArray)' yielded task 'inc' itself, not a call of it; call it to run it and wait for its value: yield\* wait\(inc\(…\)\)$/,
    );
  }
  // The flow can catch it like any error at a yield.
  const caught = await run(
    flow(async function* caught() {
      try {
        yield inc;
      } catch (e) {
        return (e as Error).name;
      }
    }),
    {},
    { store },
  );
  assert.equal(caught.outputs, "ValidationError");
});

Deno.test("a run records the inputs it ran with, a flow's and a task's defaults included", async () => {
  const store = new MemoryStore();
  const scale = task(function scale(x: number, by = 10) {
    return x * by;
  });
  const twice = flow(async function* twice(x: number, label = "twice", list = [1, 2]) {
    return `${label}:${(yield scale(x)) as number}:${list.length}`;
  });
  const a = await run(twice, { x: 2 }, { store, runId: "d-1" });
  assert.equal(a.outputs, "twice:20:2");
  assert.deepEqual((await store.getRun("d-1"))!.inputs, { x: 2, label: "twice", list: [1, 2] });
  await run(scale, { x: 3 }, { store, runId: "d-3" });
  assert.deepEqual((await store.getRun("d-3"))!.inputs, { x: 3, by: 10 });
  // A default is a fresh copy in every run, as JavaScript makes it afresh.
  const grows = flow(async function* grows(list = [1, 2]) {
    list.push(3);
    yield scale(1);
    return list.length;
  });
  for (const id of ["g-1", "g-2"]) {
    assert.equal((await run(grows, {}, { store: new MemoryStore(), runId: id })).outputs, 3);
  }
  // Running the same id again with the inputs as given finds the same run.
  const again = await run(twice, { x: 2 }, { store, runId: "d-1" });
  assert.equal(again.fromRecord, true);
  assert.equal(a.fromRecord, false);
});

Deno.test("weft runs piped into a reader that stops early (weft runs | head) exits quietly", async () => {
  await using tmp = await tempDir();
  const { SqliteStore } = await import("../sqlite.ts");
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const one = task(function one() {
      return 1;
    });
    // Far more output than a pipe holds, so that the writer meets the closed pipe.
    await Promise.all(
      Array.from({ length: 1500 }, (_, i) => run(one, {}, { store, runId: `run-${i}` })),
    );
  } finally {
    store.close();
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/cli.ts`, "runs", "--json", "--store", `sqlite:${tmp.dir}/weft.db`],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.ok(first.value !== undefined && first.value.length > 0);
  await reader.cancel();
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  assert.equal(stderr, "");
  assert.equal(status.code, 0);
});
