// One owner per run when the owner is alive but stalled: a weft run that
// stops sending heartbeats (SIGSTOP) longer than its --lease is taken over
// by weft resume (the takeover recorded with its reason); once it goes on,
// it finds its claim lost, stops, and records nothing more.

import assert from "node:assert/strict";
import { DENO, deno, ROOT, tempDir } from "./_helpers.ts";

const MOD = `${ROOT}/mod.ts`;

function weft(args: string[], options: { cwd?: string } = {}) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], options);
}

Deno.test("a stalled owner (SIGSTOP past its --lease) is taken over by weft resume; when it goes on it stops and records nothing more", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/slow.ts`,
    `import { flow, task, wait } from "${MOD}";
import { appendFileSync } from "node:fs";
const step = task({ name: "step", permissions: { write: ["./steps.log"] } }, async (i: number) => {
  appendFileSync("steps.log", i + " " + Deno.pid + "\\n");
  await new Promise((r) => setTimeout(r, 150));
  return i;
});
export const steps = flow(async function* steps(n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(step(i));
  return total;
});
`,
  );
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const first = new Deno.Command("setsid", {
    args: [
      DENO,
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      `${tmp.dir}/slow.ts`,
      "--input",
      "n=6",
      "--run-id",
      "stalled",
      "--lease",
      "1s",
      ...store,
    ],
    cwd: tmp.dir,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = (async () => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of first.stderr) text += decoder.decode(chunk, { stream: true });
    return text;
  })();
  const stdout = new Response(first.stdout).text();
  let stopped = false;
  try {
    // Stall it once a step is recorded (its group: the parent and the run's process).
    for (let i = 0; i < 600; i++) {
      const shown = await weft(["show", "stalled", ...store, "--json"], { cwd: tmp.dir });
      if (
        shown.code === 0 &&
        JSON.parse(shown.stdout).nodes.some((n: { status: string }) => n.status === "succeeded")
      ) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Its process is alive, so only its lease can free the run. (A stall that
    // lands inside one of its commits keeps the store locked: let it go on a
    // moment and stall it again.)
    let resumed: Awaited<ReturnType<typeof weft>> | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      Deno.kill(-first.pid, "SIGSTOP");
      stopped = true;
      await new Promise((r) => setTimeout(r, 2_500));
      resumed = await weft(["resume", "stalled", ...store, "--quiet"], { cwd: tmp.dir });
      if (!(resumed.code === 2 && /is locked by another process/.test(resumed.stderr))) break;
      Deno.kill(-first.pid, "SIGCONT");
      stopped = false;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(resumed!.code, 0, resumed!.stderr);
    assert.equal(resumed!.stdout.trim(), "15");
    Deno.kill(-first.pid, "SIGCONT");
    stopped = false;
    const status = await first.status;
    const text = await stderr;
    await stdout;
    assert.equal(status.code, 1, text);
    assert.match(text, /Run stalled was taken over/);
    const shown = await weft(["show", "stalled", ...store, "--json"], { cwd: tmp.dir });
    const record = JSON.parse(shown.stdout);
    assert.equal(record.status, "succeeded", "the stalled owner wrote nothing after the takeover");
    assert.equal(record.takeovers.length, 1);
    assert.match(record.takeovers[0].reason, /no heartbeat for .* \(its lease is 1\.0 s\)/);
    // Each step ran in the first process or in the resumer, and only a step in
    // flight at the stall ran in both.
    const lines = (await Deno.readTextFile(`${tmp.dir}/steps.log`)).trim().split("\n");
    const byStep = new Map<string, Set<string>>();
    for (const [i, pid] of lines.map((l) => l.split(" "))) {
      byStep.set(i!, (byStep.get(i!) ?? new Set()).add(pid!));
    }
    assert.deepEqual([...byStep.keys()].sort(), ["0", "1", "2", "3", "4", "5"]);
    assert.ok([...byStep.values()].filter((p) => p.size > 1).length <= 1, lines.join(", "));
  } finally {
    if (stopped) Deno.kill(-first.pid, "SIGCONT");
    try {
      Deno.kill(-first.pid, "SIGKILL");
    } catch {
      // it ended
    }
    await first.status;
  }
});
