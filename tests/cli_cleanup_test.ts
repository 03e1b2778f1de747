// What the CLI leaves on the machine: `weft run` and `weft resume` write no
// temporary files (the run child's entry is a data: URL and its spec goes on
// stdin; resume passes the recorded inputs in-process), so a run killed at
// any moment, or stopped with a second Ctrl-C, leaves nothing in the
// temporary directory.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const SLOW = `import { flow, task, wait } from "${ROOT}/mod.ts";
const nap = task({ name: "nap" }, async (i: number) => {
  await new Promise((r) => setTimeout(r, 20_000));
  return i;
});
export const main = flow(async function* main(n: number) {
  return yield* wait(nap(n));
});
`;

/** Starts `weft ARGS` in its own process group, with TMPDIR set, and waits until its run child runs. */
async function startWeft(
  args: string[],
  tmpdir: string,
): Promise<{ child: Deno.ChildProcess; stderr: () => string }> {
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, ...args],
    env: { NO_COLOR: "1", TMPDIR: tmpdir },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reader = child.stderr.getReader();
  const started = Date.now();
  while (!text.includes("grant") && Date.now() - started < 30_000) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  // The child has started once the plan is printed; give it time to load the script.
  await new Promise((r) => setTimeout(r, 700));
  (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  })();
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
    const { child, stderr } = await startWeft([...args, ...store], scratch);
    Deno.kill(-child.pid, "SIGKILL");
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
  );
  Deno.kill(child.pid, "SIGINT");
  await new Promise((r) => setTimeout(r, 100));
  Deno.kill(child.pid, "SIGINT");
  const status = await child.status;
  // setsid ran weft in its place (same pid), so the status is weft's.
  assert.equal(status.code, 130);
  assert.deepEqual(await entries(scratch), []);
});
