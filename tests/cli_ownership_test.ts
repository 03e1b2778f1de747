// One owner per run, end to end through the CLI: a run id that a live
// process runs cannot be started or resumed again (exit 2, "is running");
// two starts of the same id at once run each step exactly once; a run whose
// owner was killed is taken over, and the takeover is recorded.

import assert from "node:assert/strict";
import { DENO, deno, ROOT, tempDir } from "./_helpers.ts";

const MOD = `${ROOT}/mod.ts`;

function weft(args: string[], options: { cwd?: string } = {}) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], options);
}

/** A flow of `n` steps; each step appends "i pid" to steps.log (granted) and waits `ms`. */
function stepsScript(ms: number): string {
  return `import { flow, task, wait } from "${MOD}";
import { appendFileSync } from "node:fs";
const step = task({ name: "step", permissions: { write: ["./steps.log"] } }, async (i: number) => {
  appendFileSync("steps.log", i + " " + Deno.pid + "\\n");
  await new Promise((r) => setTimeout(r, ${ms}));
  return i;
});
export const steps = flow(async function* steps(n: number) {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(step(i));
  return total;
});
`;
}

async function readSteps(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${dir}/steps.log`).catch(() => "");
  return text.trim().split("\n").filter(Boolean);
}

/** Starts `weft ARGS` in its own process group, with stderr piped. */
function spawnWeft(args: string[], cwd: string): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: [DENO, "run", "-A", `${ROOT}/cli.ts`, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Reads a child's stderr until it contains `pattern` (or the child ends). */
async function waitForStderr(
  child: Deno.ChildProcess,
  pattern: RegExp,
): Promise<{ text: string; rest: Promise<string> }> {
  const reader = child.stderr.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const started = Date.now();
  while (!pattern.test(text) && Date.now() - started < 60_000) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const rest = (async () => {
    let more = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return more;
      more += decoder.decode(value, { stream: true });
    }
  })();
  return { text, rest };
}

Deno.test("two weft run --run-id of the same id started together, 20 times: each step runs exactly once, the other exits 2 'is running'", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/race.ts`, stepsScript(60));
  const store = ["--store", `sqlite:${tmp.dir}/race.db`];
  // Compile once, so that the pairs below race on the run, not on the compile cache.
  const warm = await weft(["inspect", `${tmp.dir}/race.ts`], { cwd: tmp.dir });
  assert.equal(warm.code, 0, warm.stderr);
  let clashes = 0;
  for (let round = 0; round < 20; round++) {
    await Deno.remove(`${tmp.dir}/steps.log`).catch(() => {});
    const args = [
      "run",
      `${tmp.dir}/race.ts`,
      "--input",
      "n=3",
      "--run-id",
      `dup-${round}`,
      "--quiet",
      ...store,
    ];
    const [a, b] = await Promise.all([weft(args, { cwd: tmp.dir }), weft(args, { cwd: tmp.dir })]);
    const outcomes = [a, b];
    for (const o of outcomes) {
      assert.ok(o.code === 0 || o.code === 2, `round ${round}: exit ${o.code}: ${o.stderr}`);
      if (o.code === 2) {
        assert.match(
          o.stderr,
          new RegExp(`run dup-${round} is running \\(pid \\d+ on \\S+ since `),
        );
        assert.equal(o.stderr.trim().split("\n").length, 1, o.stderr);
      } else assert.equal(o.stdout.trim(), "3");
    }
    assert.ok(outcomes.some((o) => o.code === 0), `round ${round}: neither ran`);
    if (outcomes.some((o) => o.code === 2)) clashes++;
    const lines = await readSteps(tmp.dir);
    assert.deepEqual(
      lines.map((l) => l.split(" ")[0]),
      ["0", "1", "2"],
      `round ${round}: every step exactly once: ${lines}`,
    );
    assert.equal(new Set(lines.map((l) => l.split(" ")[1])).size, 1, "from one process");
  }
  // (A pair whose first run ends before the second claims the id is no clash:
  // the second returns the recorded result. Started together, nearly all clash.)
  assert.ok(clashes >= 10, `only ${clashes} of 20 pairs overlapped`);
});

Deno.test("weft run --run-id and weft resume of a run that a live process runs exit 2 with 'is running'", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/slow.ts`, stepsScript(400));
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const first = spawnWeft(
    ["run", `${tmp.dir}/slow.ts`, "--input", "n=8", "--run-id", "busy", ...store],
    tmp.dir,
  );
  try {
    await waitForStderr(first, /✓ step/);
    const again = await weft(
      ["run", `${tmp.dir}/slow.ts`, "--input", "n=8", "--run-id", "busy", ...store],
      { cwd: tmp.dir },
    );
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /^weft: run busy is running \(pid \d+ on \S+ since \d{4}-/);
    const resumed = await weft(["resume", "busy", ...store], { cwd: tmp.dir });
    assert.equal(resumed.code, 2, resumed.stderr);
    assert.match(resumed.stderr, /run busy is running \(pid \d+/);
    const shown = await weft(["show", "busy", ...store], { cwd: tmp.dir });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /owner\s+pid \d+ on \S+ since .*last heartbeat/);
  } finally {
    try {
      Deno.kill(-first.pid, "SIGKILL");
    } catch {
      // it ended
    }
    await first.status;
    await first.stdout.cancel().catch(() => {});
  }
  // Only the first process ran steps.
  const pids = new Set((await readSteps(tmp.dir)).map((l) => l.split(" ")[1]));
  assert.equal(pids.size, 1);
});

Deno.test("a run whose owner was killed with SIGKILL is taken over by weft resume, and the takeover is recorded", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/slow.ts`, stepsScript(150));
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const first = spawnWeft(
    ["run", `${tmp.dir}/slow.ts`, "--input", "n=6", "--run-id", "orphan", ...store],
    tmp.dir,
  );
  const { rest } = await waitForStderr(first, /✓ step/);
  Deno.kill(-first.pid, "SIGKILL");
  assert.equal((await first.status).signal, "SIGKILL");
  await rest;
  await first.stdout.cancel().catch(() => {});
  const before = await weft(["show", "orphan", ...store], { cwd: tmp.dir });
  assert.match(before.stdout, /status\s+running/);
  const resumed = await weft(["resume", "orphan", ...store, "--quiet"], { cwd: tmp.dir });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.stdout.trim(), "15");
  const shown = await weft(["show", "orphan", ...store, "--json"], { cwd: tmp.dir });
  const record = JSON.parse(shown.stdout);
  assert.equal(record.status, "succeeded");
  assert.equal(record.owner, null, "released when it ended");
  assert.equal(record.takeovers.length, 1);
  assert.match(record.takeovers[0].reason, /its process \d+ on \S+ is gone/);
  const text = await weft(["show", "orphan", ...store], { cwd: tmp.dir });
  assert.match(text.stdout, /takeover .* took it over from pid \d+ on \S+ \(its process \d+/);
});

Deno.test("weft run creates the store private: the directory 0700, the file and its WAL 0600", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/one.ts`,
    `import { task, workflow } from "${MOD}";
const one = task(function one() { return 1; });
export const main = workflow(function main() { return one(); });
`,
  );
  const out = await weft(["run", `${tmp.dir}/one.ts`, "--quiet"], { cwd: tmp.dir });
  assert.equal(out.code, 0, out.stderr);
  assert.equal((await Deno.stat(`${tmp.dir}/.weft`)).mode! & 0o777, 0o700);
  assert.equal((await Deno.stat(`${tmp.dir}/.weft/weft.db`)).mode! & 0o777, 0o600);
  for (const extra of ["-wal", "-shm"]) {
    const info = await Deno.stat(`${tmp.dir}/.weft/weft.db${extra}`).catch(() => undefined);
    if (info !== undefined) assert.equal(info.mode! & 0o077, 0, `weft.db${extra} is private`);
  }
});
