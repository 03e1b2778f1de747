// The compile cache: an unchanged module graph is described once; any edit,
// to the script or to a module it imports, is seen at once.

import assert from "node:assert/strict";
import { loadScript } from "../src/cli/load.ts";
import { resolveScript } from "../src/cli/script.ts";
import { DESCRIPTION_VERSION, type ScriptDescription } from "../src/cli/protocol.ts";
import { deno, ROOT, tempDir } from "./_helpers.ts";

Deno.test("weft reuses a script's description until any module of its graph changes", async () => {
  await using tmp = await tempDir();
  const cache = `${tmp.dir}/cache`;
  const env = { WEFT_CACHE_DIR: cache };
  const lib = (name: string, perm: string) =>
    `import { task } from "${ROOT}/mod.ts";\nexport const ${name} = task({ name: "${name}", permissions: { read: ["${perm}"] } }, () => 1);\n`;
  await Deno.writeTextFile(`${tmp.dir}/lib.ts`, lib("step", "/a"));
  await Deno.writeTextFile(
    `${tmp.dir}/main.ts`,
    `import { workflow } from "${ROOT}/mod.ts";\nimport { step } from "./lib.ts";\nexport const main = workflow(function main() { return step(); });\n`,
  );
  const compile = () =>
    deno(["run", "-A", `${ROOT}/cli.ts`, "compile", `${tmp.dir}/main.ts`], { env });
  const first = await compile();
  assert.equal(first.code, 0, first.stderr);
  const entries = [...Deno.readDirSync(cache)].filter((e) => e.name.endsWith(".json"));
  assert.equal(entries.length, 1, "the description was cached");
  const again = await compile();
  assert.equal(again.stdout, first.stdout);
  assert.equal([...Deno.readDirSync(cache)].filter((e) => e.name.endsWith(".json")).length, 1);

  // An edit to an imported module, of the same size, right away, is seen.
  await Deno.writeTextFile(`${tmp.dir}/lib.ts`, lib("step", "/b"));
  const edited = await compile();
  assert.equal(edited.code, 0, edited.stderr);
  assert.deepEqual(JSON.parse(edited.stdout).tasks[0].permissions, { read: ["/b"] });
  assert.deepEqual(JSON.parse(first.stdout).tasks[0].permissions, { read: ["/a"] });

  // A cached description still grants only what the current code declares.
  const run = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    "run",
    `${tmp.dir}/main.ts`,
    "--store",
    "memory",
  ], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /grant read\s+\/b\s+← step/);

  // A broken script is not cached: its error is reported every time.
  await Deno.writeTextFile(`${tmp.dir}/lib.ts`, "export const = ;\n");
  for (let i = 0; i < 2; i++) {
    const broken = await compile();
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /does not parse/);
  }
});

/**
 * Loads scripts in this process, recording the subprocesses loadScript starts
 * (`deno info` lists a graph, `deno run -` compiles a script).
 */
async function withSpawnLog(
  cache: string,
  body: (load: (script: string) => Promise<ScriptDescription>, spawned: string[]) => Promise<void>,
): Promise<void> {
  const Command = Deno.Command;
  const previous = Deno.env.get("WEFT_CACHE_DIR");
  const spawned: string[] = [];
  Deno.env.set("WEFT_CACHE_DIR", cache);
  Deno.Command = class extends Command {
    constructor(command: string | URL, options?: Deno.CommandOptions) {
      spawned.push(options?.args?.[0] ?? "");
      super(command, options);
    }
  };
  try {
    await body(async (script) => await loadScript(resolveScript(script)), spawned);
  } finally {
    Deno.Command = Command;
    if (previous === undefined) Deno.env.delete("WEFT_CACHE_DIR");
    else Deno.env.set("WEFT_CACHE_DIR", previous);
  }
}

function readPermission(described: ScriptDescription, task: string): unknown {
  return described.dag.tasks.find((t) => t.name === task)?.permissions?.read;
}

Deno.test("in a project with a lockfile, an unchanged graph is confirmed by hashing its files, without deno info; every change is still seen", async () => {
  await using tmp = await tempDir();
  const dir = tmp.dir;
  const config = (dep: string) =>
    JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts`, "@dep": dep } });
  const lib = (name: string, perm: string) =>
    `import { task } from "@weft/weft";\nexport const ${name} = task({ name: "${name}", permissions: { read: ["${perm}"] } }, () => 1);\n`;
  await Deno.writeTextFile(`${dir}/deno.json`, config("./dep_a.ts"));
  await Deno.writeTextFile(`${dir}/lib.ts`, lib("step", "/a"));
  await Deno.writeTextFile(`${dir}/dep_a.ts`, lib("dep", "/dep_a"));
  await Deno.writeTextFile(`${dir}/dep_b.ts`, lib("dep", "/dep_b"));
  const FROM: Record<string, string> = { step: "./lib.ts", extra: "./extra.ts", dep: "@dep" };
  const main = (imports: string[]) =>
    `import { workflow } from "@weft/weft";\n${
      imports.map((i) => `import { ${i} } from "${FROM[i]}";\n`).join("")
    }export const main = workflow(function main() { return [${
      imports.map((i) => `${i}()`).join(", ")
    }]; });\n`;
  await Deno.writeTextFile(`${dir}/main.ts`, main(["step"]));
  const script = `${dir}/main.ts`;

  await withSpawnLog(`${dir}/cache`, async (load, spawned) => {
    const first = await load(script);
    assert.deepEqual(
      spawned.splice(0),
      ["info", "run", "info"],
      "listed, compiled, then listed again to confirm the manifest",
    );
    assert.deepEqual(readPermission(first, "step"), ["/a"]);
    assert.ok(Deno.statSync(`${dir}/deno.lock`).isFile, "deno info wrote the lockfile");
    assert.deepEqual(await load(script), first);
    assert.deepEqual(spawned.splice(0), [], "confirmed from the manifest alone");

    // An imported module edited, same size, at once.
    await Deno.writeTextFile(`${dir}/lib.ts`, lib("step", "/b"));
    assert.deepEqual(readPermission(await load(script), "step"), ["/b"]);
    assert.deepEqual(spawned.splice(0), ["info", "run", "info"]);
    assert.deepEqual(readPermission(await load(script), "step"), ["/b"]);
    assert.deepEqual(spawned.splice(0), []);

    // A new import of a new module: the new graph, then edits to the new module, are seen.
    await Deno.writeTextFile(`${dir}/extra.ts`, lib("extra", "/x1"));
    await Deno.writeTextFile(`${dir}/main.ts`, main(["step", "extra"]));
    assert.deepEqual(readPermission(await load(script), "extra"), ["/x1"]);
    assert.deepEqual(spawned.splice(0), ["info", "run", "info"]);
    await Deno.writeTextFile(`${dir}/extra.ts`, lib("extra", "/x2"));
    assert.deepEqual(readPermission(await load(script), "extra"), ["/x2"]);
    assert.deepEqual(spawned.splice(0), ["info", "run", "info"]);

    // A bare specifier remapped in deno.json: no module changed, the graph did.
    await Deno.writeTextFile(`${dir}/main.ts`, main(["step", "dep"]));
    assert.deepEqual(readPermission(await load(script), "dep"), ["/dep_a"]);
    spawned.splice(0);
    await Deno.writeTextFile(`${dir}/deno.json`, config("./dep_b.ts"));
    assert.deepEqual(readPermission(await load(script), "dep"), ["/dep_b"]);
    assert.deepEqual(spawned.splice(0), ["info", "run", "info"]);

    // Back to an earlier graph: its description is still cached, listed once more.
    await Deno.writeTextFile(`${dir}/deno.json`, config("./dep_a.ts"));
    assert.deepEqual(readPermission(await load(script), "dep"), ["/dep_a"]);
    assert.deepEqual(spawned.splice(0), ["info", "info"]);
    assert.deepEqual(readPermission(await load(script), "dep"), ["/dep_a"]);
    assert.deepEqual(spawned.splice(0), []);

    // A configuration file created where Deno looks for one: the graph is listed again.
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/main.ts`, main(["dep"]).replaceAll("./", "../"));
    await load(`${dir}/sub/main.ts`);
    await load(`${dir}/sub/main.ts`);
    assert.deepEqual(spawned.splice(0), ["info", "run", "info"]);
    await Deno.writeTextFile(`${dir}/sub/deno.json`, config("../dep_b.ts"));
    await load(`${dir}/sub/main.ts`);
    assert.equal(spawned.splice(0)[0], "info");

    // A package.json brings in Node resolution, which reads node_modules: no manifest then.
    await Deno.writeTextFile(`${dir}/package.json`, "{}");
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(readPermission(await load(script), "dep"), ["/dep_a"]);
      assert.equal(spawned.splice(0)[0], "info");
    }
  });
});

Deno.test("a deno.json is judged by its keys: a task that mentions --lock or a patch keeps the manifest; a lock or patch setting, even in a comment-laden file, does not", async () => {
  await using tmp = await tempDir();
  const imports = `"imports": { "@weft/weft": "${ROOT}/mod.ts" }`;
  const cases: [string, boolean][] = [
    [
      `{ ${imports}, "tasks": { "test": "deno test --lock=deno.lock", "apply-patch": "true" } }`,
      true,
    ],
    [`// settings\n{ ${imports}, /* tasks */ "tasks": { "t": "x // not a comment" }, }\n`, true],
    [`{ ${imports}, "lock": { "frozen": false } }`, false],
    [`{ ${imports}, /* no lockfile */ "lock": false, }`, false],
    [`{ ${imports}, "\\u0070atch": [] }`, false],
    [`{ ${imports}, "unstable": ["sloppy-imports"] }`, false],
    [`{ ${imports}, lock: false }`, false],
  ];
  for (const [i, [text, manifest]] of cases.entries()) {
    const dir = `${tmp.dir}/p${i}`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/deno.json`, text);
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { workflow } from "@weft/weft";\nexport const main = workflow(function main() { return 1; });\n`,
    );
    await withSpawnLog(`${tmp.dir}/cache${i}`, async (load, spawned) => {
      // (Without a lockfile of its own the first listing writes one; with "lock" false, none.)
      await load(`${dir}/main.ts`);
      await load(`${dir}/main.ts`);
      spawned.splice(0);
      await load(`${dir}/main.ts`);
      assert.deepEqual(spawned.splice(0), manifest ? [] : ["info"], text);
    });
  }
});

Deno.test("without a lockfile, a graph with npm packages is listed by deno info on every load", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/main.ts`,
    `import { task, workflow } from "${ROOT}/mod.ts";\nconst t = task(function t() { return 1; });\nexport const main = workflow(function main() { return t(); });\n`,
  );
  await withSpawnLog(`${tmp.dir}/cache`, async (load, spawned) => {
    const first = await load(`${tmp.dir}/main.ts`);
    assert.deepEqual(spawned.splice(0), ["info", "run"]);
    assert.deepEqual(await load(`${tmp.dir}/main.ts`), first);
    assert.deepEqual(spawned.splice(0), ["info"], "npm versions are not pinned: listed again");
  });
});

Deno.test("weft run resolves imports through the script's deno.json, and runs the current code of a cached graph", async () => {
  await using tmp = await tempDir();
  const env = { WEFT_CACHE_DIR: `${tmp.dir}/cache` };
  await Deno.writeTextFile(
    `${tmp.dir}/deno.json`,
    JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts` } }),
  );
  const lib = (value: number) =>
    `import { task } from "@weft/weft";\nexport const step = task(function step() { return ${value}; });\n`;
  await Deno.writeTextFile(`${tmp.dir}/lib.ts`, lib(1));
  await Deno.writeTextFile(
    `${tmp.dir}/main.ts`,
    `import { workflow } from "@weft/weft";\nimport { step } from "./lib.ts";\nexport const main = workflow(function main() { return step(); });\n`,
  );
  // From another directory: the script's deno.json applies, not the one here.
  const run = () =>
    deno(["run", "-A", `${ROOT}/cli.ts`, "run", `${tmp.dir}/main.ts`, "--store", "memory"], {
      env,
      cwd: "/",
    });
  for (const value of [1, 1, 2, 2]) {
    await Deno.writeTextFile(`${tmp.dir}/lib.ts`, lib(value));
    const out = await run();
    assert.equal(out.code, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout), value);
  }
});

Deno.test("a description cached by an older weft (without its version) is not used: the script is compiled again", async () => {
  await using tmp = await tempDir();
  const env = { WEFT_CACHE_DIR: `${tmp.dir}/cache` };
  await Deno.writeTextFile(
    `${tmp.dir}/main.ts`,
    `import { task, workflow } from "${ROOT}/mod.ts";\nconst step = task({ name: "step", permissions: { env: ["HOME"] } }, () => 1);\nexport const main = workflow(function main() { return step(); });\n`,
  );
  const run = () =>
    deno(["run", "-A", `${ROOT}/cli.ts`, "run", `${tmp.dir}/main.ts`, "--store", "memory"], {
      env,
    });
  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /grant env\s+HOME\s+← step/);
  let stripped = 0;
  for (const entry of Deno.readDirSync(`${tmp.dir}/cache`)) {
    if (!entry.name.endsWith(".json")) continue;
    const path = `${tmp.dir}/cache/${entry.name}`;
    const described = JSON.parse(Deno.readTextFileSync(path));
    assert.deepEqual(described.reach.main.tasks, ["step"]);
    assert.equal(described.version, DESCRIPTION_VERSION);
    // As weft wrote it before descriptions had a version: reach, skeletons and all
    // would be missing, and a run planned from it could grant the wrong tasks.
    delete described.version;
    described.reach = {};
    Deno.writeTextFileSync(path, JSON.stringify(described));
    stripped++;
  }
  assert.equal(stripped, 1);
  const again = await run();
  for (const entry of Deno.readDirSync(`${tmp.dir}/cache`)) {
    if (!entry.name.endsWith(".json")) continue;
    const described = JSON.parse(Deno.readTextFileSync(`${tmp.dir}/cache/${entry.name}`));
    assert.equal(described.version, DESCRIPTION_VERSION, "compiled again and cached anew");
  }
  assert.equal(again.code, 0, again.stderr);
  assert.equal(
    again.stderr.split("\n").filter((l) => l.includes("grant")).join("\n"),
    first.stderr.split("\n").filter((l) => l.includes("grant")).join("\n"),
  );
  assert.equal(again.stdout, first.stdout);
});

/**
 * Like {@linkcode withSpawnLog}, with a hook the test may set, run once right
 * after the next `deno info` lists a graph (to edit a file as if at that moment).
 */
async function withInfoHook(
  cache: string,
  body: (
    load: (script: string) => Promise<ScriptDescription>,
    afterInfo: (hook: () => void) => void,
  ) => Promise<void>,
): Promise<void> {
  const Command = Deno.Command;
  let pending: (() => void) | undefined;
  Deno.Command = class extends Command {
    readonly #info: boolean;
    constructor(command: string | URL, options?: Deno.CommandOptions) {
      super(command, options);
      this.#info = options?.args?.[0] === "info";
    }
    override async output(): Promise<Deno.CommandOutput> {
      const out = await super.output();
      if (this.#info && pending !== undefined) {
        const hook = pending;
        pending = undefined;
        hook();
      }
      return out;
    }
  };
  try {
    await withSpawnLog(cache, (load) => body(load, (hook) => (pending = hook)));
  } finally {
    Deno.Command = Command;
  }
}

const permLib = (name: string, perm: string) =>
  `import { task } from "@weft/weft";\nexport const ${name} = task({ name: "${name}", permissions: { read: ["${perm}"] } }, () => 1);\n`;
const depMain = (from: string) =>
  `import { workflow } from "@weft/weft";\nimport { dep } from "${from}";\nexport const main = workflow(function main() { return dep(); });\n`;

Deno.test("a module edited (same size) between deno info and its hashing leaves no manifest for the wrong graph", async () => {
  await using tmp = await tempDir();
  const dir = tmp.dir;
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts` } }),
  );
  await Deno.writeTextFile(`${dir}/dep_a.ts`, permLib("dep", "/a"));
  await Deno.writeTextFile(`${dir}/dep_b.ts`, permLib("dep", "/b"));
  await Deno.writeTextFile(`${dir}/main.ts`, depMain("./dep_a.ts"));
  await withInfoHook(`${dir}/cache`, async (load, afterInfo) => {
    // The script now imports dep_b.ts instead, in a file of the same size.
    afterInfo(() => Deno.writeTextFileSync(`${dir}/main.ts`, depMain("./dep_b.ts")));
    assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/b"]);
    await Deno.writeTextFile(`${dir}/dep_b.ts`, permLib("dep", "/c"));
    assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/c"]);
  });
});

Deno.test("a deno.json edited between deno info and the compile leaves nothing cached for the wrong graph", async () => {
  await using tmp = await tempDir();
  const dir = tmp.dir;
  const config = (dep: string) =>
    JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts`, "@dep": dep } });
  await Deno.writeTextFile(`${dir}/deno.json`, config("./dep_a.ts"));
  await Deno.writeTextFile(`${dir}/dep_a.ts`, permLib("dep", "/a"));
  await Deno.writeTextFile(`${dir}/dep_b.ts`, permLib("dep", "/b"));
  await Deno.writeTextFile(`${dir}/main.ts`, depMain("@dep"));
  await withInfoHook(`${dir}/cache`, async (load, afterInfo) => {
    assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/a"]);
    assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/a"]);
    // A new version of the script, listed with @dep -> dep_a.ts, then @dep remapped.
    await Deno.writeTextFile(`${dir}/main.ts`, `// v2\n${depMain("@dep")}`);
    afterInfo(() => Deno.writeTextFileSync(`${dir}/deno.json`, config("./dep_b.ts")));
    assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/b"]);
    await Deno.writeTextFile(`${dir}/dep_b.ts`, permLib("dep", "/c"));
    assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/c"]);
  });
});

Deno.test("a script in a symlinked directory: the deno.json Deno uses (above the link's target) is in the manifest", async () => {
  await using tmp = await tempDir();
  const dir = tmp.dir;
  const config = (dep: string) =>
    JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts`, "@dep": dep } });
  await Deno.mkdir(`${dir}/shared/scripts`, { recursive: true });
  await Deno.mkdir(`${dir}/proj`);
  await Deno.writeTextFile(`${dir}/shared/deno.json`, config("./scripts/dep_a.ts"));
  await Deno.writeTextFile(`${dir}/shared/scripts/dep_a.ts`, permLib("dep", "/a"));
  await Deno.writeTextFile(`${dir}/shared/scripts/dep_b.ts`, permLib("dep", "/b"));
  await Deno.writeTextFile(`${dir}/shared/scripts/main.ts`, depMain("@dep"));
  // proj/scripts is shared/scripts; proj has a deno.json of its own, which Deno does not read for it.
  await Deno.writeTextFile(`${dir}/proj/deno.json`, config("./scripts/dep_a.ts"));
  await Deno.symlink(`${dir}/shared/scripts`, `${dir}/proj/scripts`);
  const script = `${dir}/proj/scripts/main.ts`;
  await withSpawnLog(`${dir}/cache`, async (load) => {
    assert.deepEqual(readPermission(await load(script), "dep"), ["/a"]);
    await Deno.copyFile(`${dir}/shared/deno.lock`, `${dir}/proj/deno.lock`);
    assert.deepEqual(readPermission(await load(script), "dep"), ["/a"]);
    assert.deepEqual(readPermission(await load(script), "dep"), ["/a"]);
    await Deno.writeTextFile(`${dir}/shared/deno.json`, config("./scripts/dep_b.ts"));
    assert.deepEqual(readPermission(await load(script), "dep"), ["/b"]);
  });
});

Deno.test("an import map file named by a key Deno reads unquoted or escaped still rules out the manifest", async () => {
  await using tmp = await tempDir();
  const map = (dep: string) =>
    JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts`, "@dep": dep } });
  for (
    const [i, text] of ['{ importMap: "./map.json" }', '{ "\\u0069mportMap": "./map.json" }']
      .entries()
  ) {
    const dir = `${tmp.dir}/p${i}`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/deno.json`, text);
    await Deno.writeTextFile(`${dir}/map.json`, map("./dep_a.ts"));
    await Deno.writeTextFile(`${dir}/dep_a.ts`, permLib("dep", "/a"));
    await Deno.writeTextFile(`${dir}/dep_b.ts`, permLib("dep", "/b"));
    await Deno.writeTextFile(`${dir}/main.ts`, depMain("@dep"));
    await withSpawnLog(`${tmp.dir}/cache`, async (load) => {
      for (let n = 0; n < 3; n++) {
        assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/a"], text);
      }
      await Deno.writeTextFile(`${dir}/map.json`, map("./dep_b.ts"));
      assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/b"], text);
    });
  }
});

Deno.test("with DENO_COMPAT (sloppy imports), a file created later that an import now resolves to is seen", async () => {
  await using tmp = await tempDir();
  const dir = tmp.dir;
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts` } }),
  );
  await Deno.writeTextFile(`${dir}/lib.ts`, permLib("dep", "/ts"));
  await Deno.writeTextFile(`${dir}/main.ts`, depMain("./lib.js"));
  const previous = Deno.env.get("DENO_COMPAT");
  Deno.env.set("DENO_COMPAT", "1");
  try {
    await withSpawnLog(`${dir}/cache`, async (load) => {
      for (let n = 0; n < 3; n++) {
        assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/ts"]);
      }
      await Deno.writeTextFile(`${dir}/lib.js`, permLib("dep", "/js"));
      assert.deepEqual(readPermission(await load(`${dir}/main.ts`), "dep"), ["/js"]);
    });
  } finally {
    if (previous === undefined) Deno.env.delete("DENO_COMPAT");
    else Deno.env.set("DENO_COMPAT", previous);
  }
});

Deno.test("a compile cache other users can write to is not used, and weft says so once", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/main.ts`,
    `import { workflow } from "${ROOT}/mod.ts";\nexport const main = workflow(function main() { return 1; });\n`,
  );
  const cache = `${tmp.dir}/shared-cache`;
  await Deno.mkdir(cache);
  await Deno.chmod(cache, 0o777);
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void errors.push(args.join(" "));
  try {
    await withSpawnLog(cache, async (load, spawned) => {
      await load(`${tmp.dir}/main.ts`);
      await load(`${tmp.dir}/main.ts`);
      // Compiled both times (each after listing the graph for the flows' sources), never
      // through the cache.
      assert.deepEqual(spawned.splice(0).filter((c) => c === "run"), ["run", "run"]);
    });
  } finally {
    console.error = consoleError;
  }
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(
    errors[0]!,
    /not using the compile cache .*other users can write to it \(mode 777\)/,
  );
  assert.deepEqual([...Deno.readDirSync(cache)], [], "nothing written to it");

  // Made private, it is used: the second load compiles nothing.
  await Deno.chmod(cache, 0o700);
  await withSpawnLog(cache, async (load, spawned) => {
    await load(`${tmp.dir}/main.ts`);
    spawned.splice(0);
    await load(`${tmp.dir}/main.ts`);
    assert.ok(!spawned.includes("run"), `compiled again: ${spawned}`);
  });
  // A cache directory weft creates is private.
  const fresh = `${tmp.dir}/fresh/cache`;
  await withSpawnLog(fresh, async (load) => void await load(`${tmp.dir}/main.ts`));
  assert.equal(Deno.statSync(fresh).mode! & 0o777, 0o700);
});
