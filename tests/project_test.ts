// The first hour of a new user, as far as the repository itself decides it:
// the README's two commands, what CI runs, and what they fetch.

import assert from "node:assert/strict";
import { DENO, ROOT, runCommand, tempDir } from "./_helpers.ts";
import { installed, REQUIREMENTS } from "./setup.ts";

const readme = await Deno.readTextFile(`${ROOT}/README.md`);
const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
  lock?: unknown;
  tasks: Record<string, string>;
};

/** The commands of the README's quick start. */
function quickStart(): string[] {
  const section = readme.slice(readme.indexOf("## Quick start"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter((l) => l !== "");
}

Deno.test("CI runs exactly the README's test command", async () => {
  const test = quickStart().find((c) => / task test$/.test(c));
  assert.equal(test, "npx -y deno@2.9.6 task test");
  const ci = await Deno.readTextFile(`${ROOT}/.ci/run`);
  const lines = ci.split("\n").map((l) => l.trim());
  assert.ok(
    lines.some((l) => l === test || l.startsWith(`${test} `)),
    `.ci/run does not run '${test}'`,
  );
  // and nothing installs Deno or Debian packages before it: the command itself must do that
  const before = ci.slice(0, ci.indexOf(`\n${test}`));
  assert.doesNotMatch(before, /apt-get|npm install/);
});

Deno.test("the test task installs what the end-to-end tests drive before running them", () => {
  const task = config.tasks.test!;
  assert.match(task, /^deno run [^&]*tests\/setup\.ts && deno test /);
  const needed = REQUIREMENTS.map((r) => r.program);
  for (const program of ["dot", "/usr/bin/chromium", "tmux", "setsid", "unshare"]) {
    assert.ok(needed.includes(program), `tests/setup.ts does not check ${program}`);
  }
  assert.ok(needed.some((p) => p.startsWith("/usr/lib/postgresql/15/")));
  // On this machine, CI's setup has run: everything is there.
  for (const r of REQUIREMENTS) assert.ok(installed(r.program), `${r.program} is missing`);
});

Deno.test("deno task demo fetches no test-only npm package: the lockfile it reads pins only what the library imports", async () => {
  // Deno downloads every npm package of the lockfile in effect before it runs a
  // task (cli/tools/task.rs, maybe_npm_install: PackageCaching::All), and
  // `deno run` does the same at start-up. A lockfile shared with the tests
  // made the demo fetch playwright-core and fast-check; the tests pass
  // --lock=deno.lock themselves.
  if (config.lock === false) return;
  const path = typeof config.lock === "string"
    ? config.lock
    : (config.lock as { path?: string } | undefined)?.path ?? "deno.lock";
  const lock = JSON.parse(await Deno.readTextFile(`${ROOT}/${path}`)) as {
    specifiers?: Record<string, string>;
  };
  let library = "";
  for (const dir of ["src", "."]) {
    for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
      if (e.isFile && e.name.endsWith(".ts")) {
        library += await Deno.readTextFile(`${ROOT}/${dir}/${e.name}`);
      } else if (e.isDirectory && dir === "src") {
        for await (const f of walk(`${ROOT}/src/${e.name}`)) library += await Deno.readTextFile(f);
      }
    }
  }
  const extra = Object.keys(lock.specifiers ?? {}).filter((s) =>
    s.startsWith("npm:") && !library.includes(s)
  );
  assert.deepEqual(extra, [], `${path} pins packages the library does not import`);
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* walk(`${dir}/${e.name}`);
    else if (e.name.endsWith(".ts")) yield `${dir}/${e.name}`;
  }
}

Deno.test("deno task demo fetches nothing: it prints 3 with an empty Deno cache and no npm registry", async () => {
  await using tmp = await tempDir();
  const out = await runCommand(DENO, ["task", "demo"], {
    env: {
      DENO_DIR: `${tmp.dir}/deno`,
      // Nothing listens there: any package the demo fetched would fail it.
      NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
    },
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, "3\n");
  assert.doesNotMatch(out.stderr, /Download/);
});

Deno.test("the tasks that resolve npm packages for the tests check them against deno.lock", () => {
  assert.match(config.tasks.test!, /deno test --lock=deno\.lock /);
  assert.match(config.tasks.check!, /deno check --lock=deno\.lock /);
});
