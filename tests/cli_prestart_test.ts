// weft run starts its child first thing when the same arguments, in the same
// directory, started one before (src/cli/prestart.ts): the child it starts
// early is used only when it is exactly the planned one, and a record can
// start nothing but weft's own child with the flags weft gives.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

function script(declares: boolean): string {
  return `import { task, workflow } from "${ROOT}/mod.ts";
const look = task(${
    declares ? `{ name: "look", permissions: { read: ["./data.txt"] } }` : `{ name: "look" }`
  }, () => ${declares ? `Deno.readTextFileSync("./data.txt").trim()` : `"nothing read"`});
export const main = workflow(function main() { return look(); });
`;
}

async function records(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    for (const e of Deno.readDirSync(`${dir}/starts`)) {
      if (e.name.endsWith(".json")) {
        out.set(e.name, await Deno.readTextFile(`${dir}/starts/${e.name}`));
      }
    }
  } catch {
    // none yet
  }
  return out;
}

Deno.test("weft run starts the child its arguments started last time, and only when it is exactly the planned one", async () => {
  await using tmp = await tempDir();
  const cache = `${tmp.dir}/cache`;
  await Deno.writeTextFile(`${tmp.dir}/data.txt`, "the data\n");
  await Deno.writeTextFile(`${tmp.dir}/main.ts`, script(false));
  const weft = () =>
    deno(["run", "-A", `${ROOT}/cli.ts`, "run", "main.ts", "--store", "memory"], {
      cwd: tmp.dir,
      env: { WEFT_CACHE_DIR: cache },
    });
  const first = await weft();
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout), "nothing read");
  const recorded = await records(cache);
  assert.equal(recorded.size, 1, "the child it started is recorded");
  const [name, text] = [...recorded][0]!;
  assert.ok(!text.includes("data.txt"), text);

  // Started early and used: the record stays as it was.
  const file = `${cache}/starts/${name}`;
  const before = Deno.statSync(file).mtime?.getTime();
  for (let i = 0; i < 2; i++) {
    const again = await weft();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout), "nothing read");
  }
  assert.equal(Deno.statSync(file).mtime?.getTime(), before);
  assert.equal((await records(cache)).get(name), text);

  // The task now declares a read: the child started early lacks it and is stopped; the
  // planned one has it, and the record is replaced.
  await Deno.writeTextFile(`${tmp.dir}/main.ts`, script(true));
  const changed = await weft();
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal(JSON.parse(changed.stdout), "the data");
  assert.match((await records(cache)).get(name)!, /data\.txt/);
  const used = await weft();
  assert.equal(used.code, 0, used.stderr);
  assert.equal(JSON.parse(used.stdout), "the data");

  // Back to a task that declares nothing: the child started early holds a read it must not,
  // so it is not used; the task runs with nothing.
  await Deno.writeTextFile(`${tmp.dir}/main.ts`, script(false));
  const narrowed = await weft();
  assert.equal(narrowed.code, 0, narrowed.stderr);
  assert.equal(JSON.parse(narrowed.stdout), "nothing read");
  assert.ok(!(await records(cache)).get(name)!.includes("data.txt"));
});

Deno.test("a record that names another entry, or a flag weft never gives, starts nothing", async () => {
  await using tmp = await tempDir();
  const cache = `${tmp.dir}/cache`;
  await Deno.writeTextFile(`${tmp.dir}/main.ts`, script(false));
  const marker = `${tmp.dir}/started`;
  await Deno.writeTextFile(
    `${tmp.dir}/evil.ts`,
    `Deno.writeTextFileSync(${JSON.stringify(marker)}, "yes");\n`,
  );
  const weft = () =>
    deno(["run", "-A", `${ROOT}/cli.ts`, "run", "main.ts", "--store", "memory", "--quiet"], {
      cwd: tmp.dir,
      env: { WEFT_CACHE_DIR: cache },
    });
  const first = await weft();
  assert.equal(first.code, 0, first.stderr);
  const [name, text] = [...await records(cache)][0]!;
  const record = JSON.parse(text) as { args: string[] };
  const entry = record.args.at(-1)!;
  const tampered = [
    // Another entry module.
    [...record.args.slice(0, -1), `${tmp.dir}/evil.ts`],
    [
      ...record.args.slice(0, -1),
      `data:application/typescript,${encodeURIComponent(`import "${tmp.dir}/evil.ts";`)}`,
    ],
    // A flag that runs a module first, or grants everything.
    [...record.args.slice(0, -1), `--preload=${tmp.dir}/evil.ts`, entry],
    [...record.args.slice(0, -1), "-A", "--allow-write", entry],
  ];
  for (const args of tampered) {
    await Deno.writeTextFile(`${cache}/starts/${name}`, JSON.stringify({ ...record, args }));
    const out = await weft();
    assert.equal(out.code, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout), "nothing read");
    assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound, args.join(" "));
  }
});
