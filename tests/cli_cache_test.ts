// The compile cache: an unchanged module graph is described once; any edit,
// to the script or to a module it imports, is seen at once.

import assert from "node:assert/strict";
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
