// What the CLI leaves on the machine: `weft run` and `weft resume` write no
// temporary files (the run child's entry is a data: URL and its spec goes on
// stdin; resume passes the recorded inputs in-process), so a run killed at
// any moment, or stopped with a second Ctrl-C, leaves nothing in the
// temporary directory.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

// The task says when it runs (a file beside the script), so that the test
// kills the run mid-task however long the run process takes to start.
const SLOW = `import { flow, task, wait } from "${ROOT}/mod.ts";
import { appendFileSync } from "node:fs";
const nap = task({ name: "nap", permissions: { write: ["./started"] } }, async (i: number) => {
  appendFileSync("started", "nap\\n");
  await new Promise((r) => setTimeout(r, 20_000));
  return i;
});
export const main = flow(async function* main(n: number) {
  return yield* wait(nap(n));
});
`;

/** Starts `weft ARGS` in its own process group, with TMPDIR set, and waits until its task runs. */
async function startWeft(
  args: string[],
  tmpdir: string,
  marker: string,
): Promise<{ child: Deno.ChildProcess; stderr: () => string }> {
  await Deno.remove(marker).catch(() => {});
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, ...args],
    env: { NO_COLOR: "1", TMPDIR: tmpdir },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  let ended = false;
  const reader = child.stderr.getReader();
  (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ended = true;
  })();
  const started = Date.now();
  while (!ended && Date.now() - started < 60_000) {
    if (await Deno.stat(marker).then(() => true, () => false)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, stderr: () => text };
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("weft run and weft resume killed mid-run leave nothing in the temporary directory", async () => {
  await using tmp = await tempDir();
  const scratch = `${tmp.dir}/tmp`;
  await Deno.mkdir(scratch);
  await Deno.writeTextFile(`${tmp.dir}/slow.ts`, SLOW);
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  for (
    const args of [["run", `${tmp.dir}/slow.ts`, "--input", "n=1", "--run-id", "r1"], [
      "resume",
      "r1",
    ]]
  ) {
    const { child, stderr } = await startWeft([...args, ...store], scratch, `${tmp.dir}/started`);
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch (e) {
      const status = await child.status;
      assert.fail(
        `weft ${args[0]} ended (exit ${status.code}) before it was killed: ${stderr()} (${e})`,
      );
    }
    await child.status;
    assert.deepEqual(await entries(scratch), [], `after weft ${args[0]}: ${stderr()}`);
  }
  // The killed run is still there to resume.
  const shown = await deno(["run", "-A", `${ROOT}/cli.ts`, "show", "r1", ...store]);
  assert.equal(shown.code, 0, shown.stderr);
});

Deno.test("weft run stopped by a second Ctrl-C leaves nothing in the temporary directory", async () => {
  await using tmp = await tempDir();
  const scratch = `${tmp.dir}/tmp`;
  await Deno.mkdir(scratch);
  await Deno.writeTextFile(`${tmp.dir}/slow.ts`, SLOW);
  const { child } = await startWeft(
    ["run", `${tmp.dir}/slow.ts`, "--input", "n=1", "--store", "memory"],
    scratch,
    `${tmp.dir}/started`,
  );
  Deno.kill(child.pid, "SIGINT");
  await new Promise((r) => setTimeout(r, 100));
  Deno.kill(child.pid, "SIGINT");
  const status = await child.status;
  // setsid ran weft in its place (same pid), so the status is weft's.
  assert.equal(status.code, 130);
  assert.deepEqual(await entries(scratch), []);
});
