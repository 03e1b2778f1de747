// What weft says when the SQLite store is not as it should be, tested for
// real: a read-only file system (a read-only bind mount in a private mount
// namespace, since root ignores file modes), a page of a real store
// overwritten with garbage, and an empty file.

import assert from "node:assert/strict";
import { deno, ROOT, runCommand, tempDir } from "./_helpers.ts";

const SCRIPT = `import { task, workflow } from "${ROOT}/mod.ts";
const add = task(function add(x: number, y: number) { return x + y; });
export const main = workflow(function main(x: number) { return add(add(x, 1), 10); });
`;

function weft(args: string[]) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args]);
}

/**
 * Runs `weft ARGS` with `dir` mounted read-only, in a mount namespace of its
 * own (nothing outside sees the mount, and it goes away with the process).
 */
function weftReadOnly(dir: string, args: string[]) {
  const quoted = [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, ...args].map((a) =>
    `'${a.replaceAll("'", `'\\''`)}'`
  ).join(" ");
  const unshare = Deno.uid() === 0 ? ["-m"] : ["-r", "-m"];
  return runCommand("unshare", [
    ...unshare,
    "sh",
    "-c",
    `mount --bind '${dir}' '${dir}' && mount -o remount,bind,ro '${dir}' && exec ${quoted}`,
  ]);
}

/** Why a read-only mount cannot be made here, or undefined when it can. */
async function readOnlyMountMissing(): Promise<string | undefined> {
  await using tmp = await tempDir();
  try {
    const unshare = Deno.uid() === 0 ? ["-m"] : ["-r", "-m"];
    const out = await runCommand("unshare", [
      ...unshare,
      "sh",
      "-c",
      `mount --bind '${tmp.dir}' '${tmp.dir}' && mount -o remount,bind,ro '${tmp.dir}' && ! touch '${tmp.dir}/probe' 2>/dev/null`,
    ]);
    if (out.code === 0) return undefined;
    return `unshare -m and mount -o remount,bind,ro failed (${
      out.stderr.trim().split("\n")[0] || `exit ${out.code}`
    }): run as root, or where user namespaces are allowed`;
  } catch (e) {
    return `unshare is not available (${(e as Error).message}); install util-linux`;
  }
}

const noMount = await readOnlyMountMissing();
if (noMount !== undefined) console.warn(`sqlite_faults_test: skipping read-only tests: ${noMount}`);

async function storeWithRun(dir: string): Promise<string[]> {
  await Deno.writeTextFile(`${dir}/hist.ts`, SCRIPT);
  const store = ["--store", `sqlite:${dir}/db/weft.db`];
  const r = await weft([
    "run",
    `${dir}/hist.ts`,
    "--input",
    "x=1",
    "--run-id",
    "r1",
    "--quiet",
    ...store,
  ]);
  assert.equal(r.stdout, "12\n", r.stderr);
  return store;
}

Deno.test({
  name: "a store in a read-only directory is refused with exit 2, naming the store and what to do",
  ignore: noMount !== undefined,
  async fn() {
    await using tmp = await tempDir();
    await Deno.writeTextFile(`${tmp.dir}/hist.ts`, SCRIPT);
    await Deno.mkdir(`${tmp.dir}/ro`);
    for (const path of [`${tmp.dir}/ro/weft.db`, `${tmp.dir}/ro/sub/weft.db`]) {
      const out = await weftReadOnly(`${tmp.dir}/ro`, [
        "run",
        `${tmp.dir}/hist.ts`,
        "--input",
        "x=1",
        "--store",
        `sqlite:${path}`,
      ]);
      assert.equal(out.code, 2, out.stderr);
      const last = out.stderr.trim().split("\n").at(-1)!;
      assert.ok(last.includes(path), last);
      assert.match(last, /Read-only file system.*pass --store sqlite:PATH in a writable/);
    }
  },
});

Deno.test({
  name:
    "an existing store on a read-only mount can be read by runs, show, lineage and export; runs into it are refused",
  ignore: noMount !== undefined,
  async fn() {
    await using tmp = await tempDir();
    const store = await storeWithRun(tmp.dir);
    const ro = `${tmp.dir}/db`;
    const runs = await weftReadOnly(ro, ["runs", ...store]);
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, /\nr1\s+main\s+succeeded/);
    const show = await weftReadOnly(ro, ["show", "r1", ...store]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /outputs\s+12/);
    const lineage = await weftReadOnly(ro, ["lineage", "r1/add_2/o0", ...store]);
    assert.equal(lineage.code, 0, lineage.stderr);
    assert.match(lineage.stdout, /from add_2\.o0/);
    const exported = await weftReadOnly(ro, ["export", "r1", ...store]);
    assert.equal(exported.code, 0, exported.stderr);
    const again = await weftReadOnly(ro, [
      "run",
      `${tmp.dir}/hist.ts`,
      "--input",
      "x=2",
      ...store,
    ]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(
      again.stderr.trim().split("\n").at(-1)!,
      /The store .*weft\.db cannot be written here \(Read-only file system.*weft runs, show, lineage and export can still read this one/,
    );
  },
});

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("a store with a damaged page: runs still lists, show exits 2 naming the file and what to do, and the file is left as it was", async () => {
  await using tmp = await tempDir();
  const store = await storeWithRun(tmp.dir);
  const path = `${tmp.dir}/db/weft.db`;
  // Fold the WAL into the file, then find the nodes table's first page and overwrite it.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const pageSize = Number(
    (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size,
  );
  const root = Number(
    (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'nodes'").get() as {
      rootpage: number;
    }).rootpage,
  );
  db.close();
  const file = await Deno.open(path, { write: true });
  await file.seek((root - 1) * pageSize, Deno.SeekMode.Start);
  await file.write(new Uint8Array(pageSize).fill(0x5a));
  file.close();
  const before = await sha256(path);

  const runs = await weft(["runs", ...store]);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, /\nr1\s+main/);
  const show = await weft(["show", "r1", ...store]);
  assert.equal(show.code, 2, show.stderr);
  assert.equal(show.stderr.trim().split("\n").length, 1, show.stderr);
  assert.match(
    show.stderr,
    /^weft: The store .*\/db\/weft\.db is damaged \(SQLite: database disk image is malformed\); weft has not changed it\. Keep a copy, then recover what is readable with sqlite3 .* \.recover, or move it away and start a new store/,
  );
  const lineage = await weft(["lineage", "r1/add_2/o0", ...store]);
  assert.equal(lineage.code, 2, lineage.stderr);
  assert.match(lineage.stderr, /is damaged/);
  assert.equal(await sha256(path), before, "the damaged file was changed");
});

Deno.test("an empty file is not turned into a store: run and the history commands exit 2 saying so", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/hist.ts`, SCRIPT);
  const path = `${tmp.dir}/empty.db`;
  await Deno.writeFile(path, new Uint8Array());
  const store = ["--store", `sqlite:${path}`];
  for (
    const args of [["run", `${tmp.dir}/hist.ts`, "--input", "x=1", ...store], ["runs", ...store], [
      "show",
      "r1",
      ...store,
    ]]
  ) {
    const out = await weft(args);
    assert.equal(out.code, 2, `${args[0]}: ${out.stderr}`);
    assert.match(
      out.stderr.trim().split("\n").at(-1)!,
      /empty\.db is an empty file, not a weft store, and weft does not turn it into one; delete it \(weft then creates the store there\) or point --store at another file/,
    );
  }
  assert.equal((await Deno.stat(path)).size, 0);
});
