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

Deno.test("the README's install command makes a weft command without the config warning; the command runs deno from PATH", async () => {
  await using tmp = await tempDir();
  const readmeCommand = /deno install -g -A -n weft --no-config \.\/cli\.ts/;
  assert.match(readme, readmeCommand);
  const install = await runCommand(DENO, [
    "install",
    "-g",
    "-A",
    "-n",
    "weft",
    "--no-config",
    "--root",
    tmp.dir,
    "./cli.ts",
  ]);
  assert.equal(install.code, 0, install.stderr);
  assert.doesNotMatch(install.stderr, /Warning/);
  // Without --no-config Deno warns, as the README says (harmless).
  const warned = await runCommand(DENO, [
    "install",
    "-g",
    "-A",
    "-n",
    "weft2",
    "--root",
    tmp.dir,
    "./cli.ts",
  ]);
  assert.match(warned.stderr, /discovered config file will be ignored in the installed command/);
  assert.match(readme, /Warning discovered config file will be ignored in the installed command/);
  // The command is a shell script that runs `deno`: on a Node-only machine, npm provides it.
  const shim = await Deno.readTextFile(`${tmp.dir}/bin/weft`);
  assert.match(shim, /^exec deno run /m);
  assert.match(readme, /npm install -g deno@2\.9\.6/);
  const path = `${DENO.replace(/\/[^/]*$/, "")}:/usr/bin:/bin`;
  const version = await runCommand(`${tmp.dir}/bin/weft`, ["--version"], { env: { PATH: path } });
  assert.equal(version.code, 0, version.stderr);
  if (!installed("/usr/bin/deno") && !installed("/bin/deno")) {
    const noDeno = await runCommand(`${tmp.dir}/bin/weft`, ["--version"], {
      env: { PATH: "/usr/bin:/bin" },
    });
    assert.notEqual(noDeno.code, 0, "the shim needs deno on PATH");
  }
});
