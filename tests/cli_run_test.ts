// End-to-end tests of `weft run`: real subprocesses, real Deno permissions.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const MOD = `${ROOT}/mod.ts`;

function weft(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  // These tests are about running, not storing: keep each run in memory.
  const store = args[0] === "run" && !args.includes("--store") ? ["--store", "memory"] : [];
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args, ...store], options);
}

async function script(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(
    path,
    `import { flow, task, wait, workflow, Workflow, launchPlan } from "${MOD}";\n${body}`,
  );
  return path;
}

Deno.test("weft run grants a declared read and prints only the outputs on stdout", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/data.txt`, "secret\n");
  const path = await script(
    tmp.dir,
    "read.ts",
    `export const load = task({ name: "load", permissions: { read: ["./data.txt"] } }, () => {
       console.log("user output goes to stderr");
       return Deno.readTextFileSync("data.txt").trim();
     });
     export const main = workflow(function main() { return load(); });`,
  );
  const out = await weft(["run", path]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, '"secret"\n');
  assert.match(out.stderr, /weft: grant read\s+\S*data\.txt\s+← load/);
  assert.match(out.stderr, /user output goes to stderr/);
});

Deno.test("undeclared read, write, net, env and run fail with PermissionDeniedError naming the declaration", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/data.txt`, "secret");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("pong"),
  );
  const port = (server.addr as Deno.NetAddr).port;
  try {
    const path = await script(
      tmp.dir,
      "undeclared.ts",
      `export const reads = task(function reads() { return Deno.readTextFileSync("data.txt"); });
       export const writes = task(function writes() { Deno.writeTextFileSync("written.txt", "x"); return 1; });
       export const fetches = task(async function fetches() { return await (await fetch("http://127.0.0.1:${port}/")).text(); });
       export const envs = task(function envs() { return Deno.env.get("HOME") ?? ""; });
       export const runs = task(async function runs() { return (await new Deno.Command("true").output()).code; });
       export const fetchesOk = task({ name: "fetchesOk", permissions: { net: ["127.0.0.1:${port}"] } },
         async () => await (await fetch("http://127.0.0.1:${port}/")).text());`,
    );
    const cases: [string, RegExp][] = [
      ["reads", /refused read access to "data\.txt".*add permissions: \{ read: \["data\.txt"\] \}/],
      [
        "writes",
        /refused write access to "written\.txt".*add permissions: \{ write: \["written\.txt"\] \}/,
      ],
      [
        "fetches",
        new RegExp(
          `refused net access to "127\\.0\\.0\\.1:${port}".*add permissions: \\{ net: \\["127\\.0\\.0\\.1:${port}"\\] \\}`,
        ),
      ],
      ["envs", /refused env access to "HOME".*add permissions: \{ env: \["HOME"\] \}/],
      ["runs", /refused run access to "true".*add permissions: \{ run: \["true"\] \}/],
    ];
    for (const [name, pattern] of cases) {
      const out = await weft(["run", path, name, "--quiet"]);
      assert.equal(out.code, 1, `${name}: ${out.stderr}`);
      assert.match(out.stderr, pattern, name);
      assert.match(out.stderr, new RegExp(`Task '${name}' \\(node '${name}'\\)`), name);
      assert.equal(out.stdout, "", `${name} printed nothing on stdout`);
    }
    assert.equal(
      await Deno.stat(`${tmp.dir}/written.txt`).catch(() => null),
      null,
      "the refused write did not happen",
    );
    const ok = await weft(["run", path, "fetchesOk", "--quiet"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '"pong"\n');
  } finally {
    await server.shutdown();
  }
});

Deno.test("a task of another workflow in the same file lends nothing", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/data.txt`, "secret");
  const path = await script(
    tmp.dir,
    "two.ts",
    `const privileged = task({ name: "privileged", permissions: { read: ["./data.txt"] } }, () => Deno.readTextFileSync("data.txt"));
     const sneaky = task(function sneaky() { return Deno.readTextFileSync("data.txt"); });
     export const a = workflow(function a() { return privileged(); });
     export const b = workflow(function b() { return sneaky(); });`,
  );
  const a = await weft(["run", path, "a", "--quiet"]);
  assert.equal(a.code, 0, a.stderr);
  const b = await weft(["run", path, "b"]);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /grant no permissions/);
  assert.match(b.stderr, /Task 'sneaky' \(node 'sneaky'\) was refused read access/);
});

Deno.test("per-task grants (the default; --isolate says the same) deny a task what only its sibling declared; --no-isolate shares the union", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/data.txt`, "secret");
  const path = await script(
    tmp.dir,
    "siblings.ts",
    `const owner = task({ name: "owner", permissions: { read: ["./data.txt"] } }, () => Deno.readTextFileSync("data.txt"));
     const borrower = task(function borrower() { return Deno.readTextFileSync("data.txt"); });
     export const pair = workflow(function pair() { return { a: owner(), b: borrower() }; });`,
  );
  const shared = await weft(["run", path, "--quiet", "--no-isolate"]);
  assert.equal(shared.code, 0, shared.stderr);
  assert.deepEqual(JSON.parse(shared.stdout), { a: "secret", b: "secret" });
  for (const flags of [[], ["--isolate"]]) {
    const isolated = await weft(["run", path, "--quiet", ...flags]);
    assert.equal(isolated.code, 1, isolated.stderr);
    assert.match(
      isolated.stderr,
      /Task 'borrower' \(node 'borrower'\) was refused read access to "data\.txt"/,
    );
    assert.doesNotMatch(isolated.stderr, /'owner'.*refused/);
  }
  const both = await weft(["run", path, "--isolate", "--no-isolate"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--isolate and --no-isolate contradict each other/);
});

Deno.test("inputs come from --input flags (JSON or string), a YAML file and defaults, checked before running", async () => {
  await using tmp = await tempDir();
  const path = await script(
    tmp.dir,
    "inputs.ts",
    `const show = task(function show(name: string, count: number, tags: string[]) { return { name, count, tags }; });
     export const main = workflow({ inputs: { name: "string", count: "integer", tags: "string[]" } },
       function main(name: string, count: number, tags: string[] = ["default"]) { return show(name, count, tags); });`,
  );
  const flags = await weft(["run", path, "--input", "name=ada", "--input", "count=3", "--quiet"]);
  assert.equal(flags.code, 0, flags.stderr);
  assert.deepEqual(JSON.parse(flags.stdout), { name: "ada", count: 3, tags: ["default"] });

  await Deno.writeTextFile(`${tmp.dir}/in.yaml`, "name: grace\ncount: 2\ntags:\n  - a\n  - b\n");
  const yaml = await weft([
    "run",
    path,
    "--inputs",
    `${tmp.dir}/in.yaml`,
    "--input",
    "count=5",
    "--quiet",
  ]);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.deepEqual(JSON.parse(yaml.stdout), { name: "grace", count: 5, tags: ["a", "b"] });

  const missing = await weft(["run", path, "--input", "name=x"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /Missing input 'count' of workflow 'main'; pass it with --input count=VALUE/,
  );
  const unknown = await weft([
    "run",
    path,
    "--input",
    "name=x",
    "--input",
    "count=1",
    "--input",
    "colour=red",
  ]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /workflow 'main' has no input 'colour'; its inputs are name, count, tags\?/,
  );
  const typed = await weft(["run", path, "--input", "name=x", "--input", "count=1.5"]);
  assert.equal(typed.code, 2, typed.stderr);
  assert.match(typed.stderr, /Input 'count' expects integer but was given number 1\.5/);
  assert.equal(typed.stdout, "");
  const badFile = await weft(["run", path, "--inputs", `${tmp.dir}/nope.yaml`]);
  assert.equal(badFile.code, 2);
  assert.match(badFile.stderr, /Cannot read --inputs/);
});

Deno.test("weft run picks the only workflow, lists them when there are several, and rejects unknown names", async () => {
  await using tmp = await tempDir();
  const one = await script(
    tmp.dir,
    "one.ts",
    `export const only = flow(async function* only() { return 1; });`,
  );
  const ok = await weft(["run", one, "--quiet"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "1\n");
  const several = await script(
    tmp.dir,
    "several.ts",
    `export const first = flow(async function* first() { return 1; });
     export const second = flow(async function* second() { return 2; });`,
  );
  const ambiguous = await weft(["run", several]);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /exports several workflows; name one: first, second/);
  const unknown = await weft(["run", several, "third"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /exports no workflow named 'third'; it exports first, second/);
  assert.equal((await weft(["run", several, "second", "--quiet"])).stdout, "2\n");
  const usage = await weft(["run"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /give SCRIPT/);
  const badFlag = await weft(["run", one, "--bogus"]);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /Unknown option '--bogus'/);
});

Deno.test("--json writes one event per line, the last the result", async () => {
  await using tmp = await tempDir();
  const path = await script(
    tmp.dir,
    "events.ts",
    `const add = task(function add(x: number, y: number) { return x + y; });
     const flaky = task({ name: "flaky", retries: 1, retryDelay: 1 }, (x: number, ctx: { attempt: number }) => {
       if (ctx.attempt === 1) throw new Error("first try fails");
       return x;
     });
     export const main = flow(async function* main(x: number) {
       const a = add(x, 1);
       return { total: yield* wait(flaky(a)), when: new Date(0), big: 10n };
     });`,
  );
  const out = await weft(["run", path, "--input", "x=1", "--json"]);
  assert.equal(out.code, 0, out.stderr);
  const events = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const types = events.map((e) => e.type);
  assert.equal(types[0], "run started");
  assert.equal(types.at(-1), "run finished");
  for (
    const t of ["node added", "node scheduled", "node started", "node succeeded", "node retrying"]
  ) {
    assert.ok(types.includes(t), `has ${t}`);
  }
  const last = events.at(-1);
  assert.equal(last.status, "succeeded");
  assert.deepEqual(last.outputs, {
    total: 2,
    when: { $date: "1970-01-01T00:00:00.000Z" },
    big: { $bigint: "10" },
  });
  assert.ok(events.every((e) => e.runId === last.runId));
  assert.doesNotMatch(out.stderr, /grant/);
});

Deno.test("exit codes: 0 succeeded, 1 failed, 2 bad input", async () => {
  await using tmp = await tempDir();
  const path = await script(
    tmp.dir,
    "codes.ts",
    `export const fails = flow(async function* fails() { throw new Error("flow broke"); });`,
  );
  const failed = await weft(["run", path]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /run \S+ failed/);
  assert.match(failed.stderr, /'fails' failed: flow broke/);
  const missing = await weft(["run", `${tmp.dir}/absent.ts`]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
  assert.match(missing.stderr, /No such script/);
});

Deno.test("--allow-extra grants more and shows it in the plan", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/extra.txt`, "extra");
  const path = await script(
    tmp.dir,
    "extra.ts",
    `export const main = flow(async function* main() { return yield* wait(readIt()); });
     const readIt = task(function readIt() { return Deno.readTextFileSync("${tmp.dir}/extra.txt"); });`,
  );
  const denied = await weft(["run", path, "--quiet"]);
  assert.equal(denied.code, 1);
  const granted = await weft(["run", path, "--allow-extra", `read=${tmp.dir}/extra.txt`]);
  assert.equal(granted.code, 0, granted.stderr);
  assert.match(granted.stderr, /grant read\s+\S+extra\.txt\s+← --allow-extra/);
  assert.equal(granted.stdout, '"extra"\n');
  const bad = await weft(["run", path, "--allow-extra", "disk=/"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--allow-extra disk=\/: write KIND=VALUE/);
});

Deno.test("Ctrl-C stops the run cleanly: tasks are aborted, finally blocks run, exit code 130", async () => {
  await using tmp = await tempDir();
  const path = await script(
    tmp.dir,
    "slow.ts",
    `const nap = task({ name: "nap" }, async (i: number, ctx: { signal: AbortSignal }) => {
       await new Promise((resolve, reject) => {
         const t = setTimeout(resolve, 30_000);
         ctx.signal.addEventListener("abort", () => { clearTimeout(t); reject(ctx.signal.reason); });
       });
       return i;
     });
     export const main = flow(async function* main() {
       try {
         for (let i = 0; i < 3; i++) yield* wait(nap(i));
       } finally {
         console.error("finally ran");
       }
     });`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/cli.ts`, "run", path, "--store", "memory"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // wait for the task to start, then interrupt the parent only
  const decoder = new TextDecoder();
  let stderr = "";
  const reader = child.stderr.getReader();
  const started = Date.now();
  while (!stderr.includes("grant") && Date.now() - started < 20_000) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += decoder.decode(value);
  }
  await new Promise((r) => setTimeout(r, 500));
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += decoder.decode(value);
  }
  const status = await child.status;
  await child.stdout.cancel();
  assert.equal(status.code, 130, stderr);
  assert.match(stderr, /finally ran/);
  assert.match(stderr, /run \S+ cancelled/);
  assert.ok(Date.now() - started < 20_000);
});

Deno.test("the terminal view shows progress and the final summary (driven in tmux)", async () => {
  await using tmp = await tempDir();
  const path = await script(
    tmp.dir,
    "tty.ts",
    `const nap = task({ name: "nap" }, async (i: number) => { await new Promise((r) => setTimeout(r, 1500)); return i; });
     export const main = flow(async function* main() {
       const hs = [];
       for (let i = 0; i < 4; i++) hs.push(nap(i));
       return (yield* (await import("${MOD}")).all(hs)).length;
     });`,
  );
  const session = `weft_test_${Date.now()}`;
  const log = `${tmp.dir}/done`;
  const command =
    `cd ${ROOT} && env -u NO_COLOR TERM=xterm-256color ${Deno.execPath()} run -A cli.ts run ${path} --store memory; echo EXIT=$? > ${log}; sleep 30`;
  const start = await new Deno.Command("tmux", {
    args: ["new-session", "-d", "-s", session, "-x", "120", "-y", "30", command],
    env: { TERM: "xterm-256color" },
  }).output();
  assert.ok(start.success, new TextDecoder().decode(start.stderr));
  const capture = async () =>
    new TextDecoder().decode(
      (await new Deno.Command("tmux", { args: ["capture-pane", "-p", "-t", session] }).output())
        .stdout,
    );
  try {
    let during = "";
    const t0 = Date.now();
    while (Date.now() - t0 < 20_000) {
      during = await capture();
      if (/running 4/.test(during)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(during, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] nap(_\d)?\s+\d/, during);
    assert.match(during, /done 0 · running 4 · pending 0 · failed 0/, during);
    let after = "";
    while (Date.now() - t0 < 30_000) {
      after = await capture();
      if (/EXIT=|succeeded in/.test(after)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(after, /run \S+ succeeded in \d/, after);
    assert.match(after, /4 tasks done/, after);
    assert.doesNotMatch(after, /running 4/, "the live view is cleared at the end");
  } finally {
    await new Deno.Command("tmux", { args: ["kill-session", "-t", session] }).output();
  }
});

Deno.test("a second Ctrl-C exits at once, even while a task ignores cancellation", async () => {
  await using tmp = await tempDir();
  const path = await script(
    tmp.dir,
    "stubborn.ts",
    `const stubborn = task({ name: "stubborn" }, async () => {
       await new Promise((r) => setTimeout(r, 20_000));
       return 1;
     });
     export const main = flow(async function* main() { return yield* wait(stubborn()); });`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/cli.ts`, "run", path, "--store", "memory"],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stderr.getReader();
  let stderr = "";
  while (!stderr.includes("grant")) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += new TextDecoder().decode(value);
  }
  await new Promise((r) => setTimeout(r, 400));
  const t0 = Date.now();
  child.kill("SIGINT");
  await new Promise((r) => setTimeout(r, 150));
  child.kill("SIGINT");
  const status = await child.status;
  const took = Date.now() - t0;
  await reader.cancel();
  assert.equal(status.code, 130);
  assert.ok(took < 1_500, `took ${took} ms`);
});

Deno.test("the parent of weft run loads no engine and no node: module but parseArgs (each would slow every start)", async () => {
  // What `weft run` loads before its child starts: cli.ts, and the modules
  // main.ts and commands.ts import dynamically on the way to the run command
  // (commands.ts loads run.ts by name: its graph is asked for apart).
  type Info = {
    modules: {
      specifier: string;
      dependencies?: { isDynamic?: boolean; code?: { specifier?: string } }[];
    }[];
  };
  const byUrl = new Map<string, Info["modules"][number]>();
  for (const root of ["cli.ts", "src/cli/run.ts"]) {
    const out = await deno(["info", "--json", `${ROOT}/${root}`]);
    assert.equal(out.code, 0, out.stderr);
    for (const m of (JSON.parse(out.stdout) as Info).modules) byUrl.set(m.specifier, m);
  }
  const loaded = new Set<string>();
  const stack = ["cli.ts", "src/cli/commands.ts", "src/cli/run.ts"].map((p) =>
    `file://${ROOT}/${p}`
  );
  while (stack.length > 0) {
    const url = stack.pop()!;
    if (loaded.has(url)) continue;
    loaded.add(url);
    for (const d of byUrl.get(url)?.dependencies ?? []) {
      if (!d.isDynamic && d.code?.specifier !== undefined) stack.push(d.code.specifier);
    }
  }
  const names = [...loaded].map((u) => u.replace(`file://${ROOT}/`, "")).sort();
  assert.ok(names.includes("src/cli/run.ts") && names.includes("src/cli/load.ts"), names.join(" "));
  for (const name of names) {
    // node:util is the argument parser (starting Node compatibility costs ~10 ms, but a
    // well-kept parser is worth it); no other node: or npm: module.
    assert.ok(
      name === "node:util" || !/^(node|npm):/.test(name),
      `${name} is loaded by the parent: ${names.join(" ")}`,
    );
    assert.ok(
      !["src/engine.ts", "src/ir.ts", "src/entity.ts", "src/context.ts"].includes(name),
      `${name} is loaded by the parent: ${names.join(" ")}`,
    );
  }
});

Deno.test("weft run --detach refuses the options only a driving process uses, before connecting", async () => {
  await using tmp = await tempDir();
  const path = await script(
    tmp.dir,
    "detached.ts",
    `const one = task(function one() { return 1; });
     export const main = workflow(function main() { return one(); });`,
  );
  // No server listens there: the refusal must come before any connection.
  const store = "postgres://weft@127.0.0.1:9/none";
  const one = await weft(["run", path, "--store", store, "--detach", "--max-depth", "500"]);
  assert.equal(one.code, 2, one.stderr);
  assert.match(
    one.stderr,
    /--max-depth does nothing with --detach: a detached run is driven by a weft worker, with the worker's own settings/,
  );
  const two = await weft([
    "run",
    path,
    "--store",
    store,
    "--detach",
    "--no-cache",
    "--concurrency",
    "2",
  ]);
  assert.equal(two.code, 2, two.stderr);
  assert.match(two.stderr, /--concurrency, --no-cache do nothing with --detach/);
});
