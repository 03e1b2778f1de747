// Time through the CLI, end to end with real processes: runs left sleeping
// (exit 75), weft signal, weft replay, weft schedules, and weft serve waking
// a sleeping run once, on time, across a SIGKILL and a restart of the server.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const MOD = `${ROOT}/mod.ts`;

function weft(args: string[], cwd: string) {
  return deno(["run", "-A", `${ROOT}/cli.ts`, ...args], { cwd });
}

const SCRIPT = `import { flow, launchPlan, signal, sleep, task, wait } from "${MOD}";
import { appendFileSync } from "node:fs";
const note = task({ name: "note", permissions: { write: ["./log.txt"] } }, (what: string) => {
  appendFileSync("log.txt", what + " " + Date.now() + "\\n");
  return what;
});
export const reminder = flow(async function* reminder(delay: number) {
  yield* wait(note("start"));
  yield* sleep(delay);
  return yield* wait(note("woke"));
});
export const approval = flow(async function* approval(order: string) {
  const first = yield* wait(note("asked " + order));
  const ok = yield* signal<boolean>("approve");
  yield* wait(note(ok ? "approved" : "rejected"));
  return ok ? "approved " + first : "rejected";
});
export const tick = launchPlan(reminder, {
  name: "tick",
  defaults: { delay: 1 },
  every: "1s",
  // (allow: under load a run may outlast the second, and the last fire must start a run)
  overlap: "allow",
  catchUp: 0,
});
`;

/** The same flows with the approval's two calls in another order. */
const REORDERED = SCRIPT.replace(
  `  const first = yield* wait(note("asked " + order));
  const ok = yield* signal<boolean>("approve");`,
  `  const ok = yield* signal<boolean>("approve");
  const first = yield* wait(note("asked " + order));`,
);

async function lines(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${dir}/log.txt`).catch(() => "");
  return text.trim().split("\n").filter(Boolean);
}

Deno.test("weft run --suspend leaves a run sleeping (exit 75); weft signal and weft resume finish it; weft replay checks new code", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/flows.ts`, SCRIPT);
  await Deno.writeTextFile(`${tmp.dir}/flows_v2.ts`, REORDERED);
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const first = await weft(
    [
      "run",
      "flows.ts",
      "approval",
      "--input",
      "order=42",
      "--run-id",
      "a1",
      "--suspend",
      "0",
      ...store,
    ],
    tmp.dir,
  );
  assert.equal(first.code, 75, first.stderr);
  assert.match(
    first.stderr,
    /run a1 is sleeping for signal approve; weft serve wakes it, or weft resume a1/,
  );
  const runs = await weft(["runs", "--json", ...store], tmp.dir);
  assert.equal(JSON.parse(runs.stdout.trim()).status, "sleeping");

  const missing = await weft(["signal", "nope", "approve", ...store], tmp.dir);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /No run 'nope'/);
  const sent = await weft(["signal", "a1", "approve", "true", ...store], tmp.dir);
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stderr, /sent signal 'approve' to run a1/);

  const resumed = await weft(["resume", "a1", ...store, "--quiet"], tmp.dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(JSON.parse(resumed.stdout), "approved asked 42");
  assert.deepEqual((await lines(tmp.dir)).map((l) => l.split(" ").slice(0, -1).join(" ")), [
    "asked 42",
    "approved",
  ]);

  const same = await weft(["replay", "a1", ...store], tmp.dir);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(JSON.parse(same.stdout), {
    runId: "a1",
    replayed: 3,
    beyond: 0,
    finished: true,
  });
  assert.match(same.stderr, /replay of run a1 matches its journal/);
  const reordered = await weft(["replay", "a1", "flows_v2.ts", ...store], tmp.dir);
  assert.equal(reordered.code, 1, reordered.stderr);
  assert.match(reordered.stderr, /replay of run a1 diverged from its journal/);
  assert.match(
    reordered.stderr,
    /diverged at the run call #1: the journal recorded note\(what: "asked 42"\).*now calls weft\.signal\(name: "approve"\)/,
  );
  // Replay ran nothing: no line was added to the log.
  assert.equal((await lines(tmp.dir)).length, 2);
  const unknown = await weft(["replay", "nope", ...store], tmp.dir);
  assert.equal(unknown.code, 2);
});

Deno.test("weft serve starts a scheduled plan's runs, and weft schedules lists it with its next fire time", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/flows.ts`, SCRIPT);
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const listed = await weft(["schedules", "flows.ts", "--json", ...store], tmp.dir);
  assert.equal(listed.code, 0, listed.stderr);
  const row = JSON.parse(listed.stdout.trim());
  assert.equal(row.name, "tick");
  assert.equal(row.schedule, "every 1000 ms");
  assert.ok(Date.parse(row.next) > Date.now() - 1000 && Date.parse(row.next) <= Date.now() + 1500);
  const server = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, "serve", "flows.ts", ...store],
    cwd: tmp.dir,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Two ticks recorded as succeeded (a tick that has logged may still be running).
  const succeededTicks = async () => {
    const out = await weft(["runs", "--json", ...store], tmp.dir);
    return out.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
      .filter((r) => r.entity === "tick" && r.status === "succeeded").length;
  };
  try {
    const deadline = Date.now() + 60_000;
    while ((await lines(tmp.dir)).filter((l) => l.startsWith("woke")).length < 2) {
      assert.ok(Date.now() < deadline, "two ticks within a minute");
      await new Promise((r) => setTimeout(r, 200));
    }
    while (await succeededTicks() < 2) {
      assert.ok(Date.now() < deadline, "two ticks succeeded within a minute");
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    Deno.kill(-server.pid, "SIGKILL");
    await server.status;
    await server.stderr.cancel();
  }
  const recorded = await weft(["schedules", "--json", ...store], tmp.dir);
  assert.equal(recorded.code, 0, recorded.stderr);
  const fromStore = JSON.parse(recorded.stdout.trim());
  assert.equal(fromStore.name, "tick");
  assert.equal(fromStore.last.status, "started");
  assert.match(fromStore.last.runId, /^tick:\d{4}-\d\d-\d\dT/);
  const runs = await weft(["runs", "--json", ...store], tmp.dir);
  const ticks = runs.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((r) =>
    r.entity === "tick"
  );
  assert.ok(ticks.filter((r) => r.status === "succeeded").length >= 2, runs.stdout);
});

Deno.test("a sleep survives a SIGKILL and a restart of weft serve: the run wakes once, on time", async () => {
  await using tmp = await tempDir();
  // Without the schedule, so that only the sleeping run writes to the log.
  await Deno.writeTextFile(
    `${tmp.dir}/flows.ts`,
    SCRIPT.slice(0, SCRIPT.indexOf("export const tick")),
  );
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  // Long enough for the first server to start and be killed before the wake-up.
  const delay = 8_000;
  const started = await weft(
    [
      "run",
      "flows.ts",
      "reminder",
      "--input",
      `delay=${delay}`,
      "--run-id",
      "r1",
      "--suspend",
      "0",
      ...store,
    ],
    tmp.dir,
  );
  assert.equal(started.code, 75, started.stderr);
  const sleeping = JSON.parse((await weft(["runs", "--json", ...store], tmp.dir)).stdout.trim());
  assert.equal(sleeping.status, "sleeping");
  const wakeAt = sleeping.wakeAt as number;
  const serve = () =>
    new Deno.Command("setsid", {
      args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, "serve", "flows.ts", ...store],
      cwd: tmp.dir,
      stdout: "null",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
  const first = serve();
  await new Promise((r) => setTimeout(r, 1_500));
  Deno.kill(-first.pid, "SIGKILL");
  assert.equal((await first.status).signal, "SIGKILL");
  assert.ok(Date.now() < wakeAt, "the first server was killed before the wake-up");
  const second = serve();
  try {
    const deadline = wakeAt + 60_000;
    while (!(await lines(tmp.dir)).some((l) => l.startsWith("woke"))) {
      assert.ok(Date.now() < deadline, "the run woke within a minute of its time");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Long enough for a second wake-up, if there were one, to show.
    await new Promise((r) => setTimeout(r, 2_000));
  } finally {
    Deno.kill(-second.pid, "SIGKILL");
    await second.status;
  }
  const log = await lines(tmp.dir);
  const woke = log.filter((l) => l.startsWith("woke"));
  assert.equal(woke.length, 1, log.join("\n"));
  assert.equal(log.filter((l) => l.startsWith("start")).length, 1, log.join("\n"));
  const late = Number(woke[0]!.split(" ")[1]) - wakeAt;
  // On time: never early, and late by at most the stated tolerance (a server
  // armed on the wake time, plus starting the run's process): 5 s here,
  // generous for a loaded machine; about 0.3-0.8 s is typical.
  assert.ok(late >= 0, `woke ${-late} ms early`);
  assert.ok(late < 5_000, `woke ${late} ms late`);
  console.log(`wake-up ${late} ms after its time`);
  const shown = await weft(["runs", "--json", ...store], tmp.dir);
  assert.equal(JSON.parse(shown.stdout.trim()).status, "succeeded");
});

Deno.test("a run SIGKILLed while it slept in its process is resumed by weft serve and wakes once, on time", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.dir}/flows.ts`,
    SCRIPT.slice(0, SCRIPT.indexOf("export const tick")),
  );
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  const delay = 8_000;
  // Without --suspend the run waits in its own process, which owns it.
  const holder = new Deno.Command("setsid", {
    args: [
      Deno.execPath(),
      "run",
      "-A",
      `${ROOT}/cli.ts`,
      "run",
      "flows.ts",
      "reminder",
      "--input",
      `delay=${delay}`,
      "--run-id",
      "held",
      ...store,
    ],
    cwd: tmp.dir,
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const deadline = Date.now() + 60_000;
  while (!(await lines(tmp.dir)).some((l) => l.startsWith("start"))) {
    assert.ok(Date.now() < deadline, "the run started within a minute");
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  Deno.kill(-holder.pid, "SIGKILL");
  await holder.status;
  const startedAt = Number((await lines(tmp.dir))[0]!.split(" ")[1]);
  const server = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, "serve", "flows.ts", ...store],
    cwd: tmp.dir,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    while (!(await lines(tmp.dir)).some((l) => l.startsWith("woke"))) {
      assert.ok(
        Date.now() < startedAt + delay + 60_000,
        "the run woke within a minute of its time",
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2_000));
  } finally {
    Deno.kill(-server.pid, "SIGKILL");
    await server.status;
  }
  const said = new TextDecoder().decode((await server.output().catch(() => undefined))?.stderr);
  const log = await lines(tmp.dir);
  assert.equal(log.filter((l) => l.startsWith("woke")).length, 1, log.join("\n"));
  assert.equal(log.filter((l) => l.startsWith("start")).length, 1, log.join("\n"));
  const woke = Number(log.find((l) => l.startsWith("woke"))!.split(" ")[1]);
  // The sleep started just after the start line: it wakes no earlier than its time, and on time.
  assert.ok(woke - startedAt >= delay, `woke ${delay - (woke - startedAt)} ms early`);
  assert.ok(woke - startedAt < delay + 5_000, `woke ${woke - startedAt - delay} ms late`);
  void said;
  const shown = await weft(["runs", "--json", ...store], tmp.dir);
  assert.equal(JSON.parse(shown.stdout.trim()).status, "succeeded");
});

// The README's approval flow: a signal raced against a day's sleep. A run
// that only may suspend (as weft serve runs it: --suspend 1m) and whose
// signal is already in the store must take it and finish, not go back to
// sleep for the day: over the parent's channel, taking the signal and making
// its record durable are asynchronous, and the run is not idle meanwhile.
const RACE = `import { flow, race, signal, sleep, task, wait } from "${MOD}";
const ship = task(function ship(order: string) {
  return "shipped " + order;
});
export const approval = flow(async function* approval(order: string) {
  const ok = yield* race([signal<boolean>("approve", { schema: "boolean" }), sleep("1d")]);
  if (ok !== true) return "not approved";
  return yield* wait(ship(order));
});
`;

Deno.test("a run resumed with --suspend takes the signal it waits for and finishes, cancelling the raced sleep", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/approval.ts`, RACE);
  const store = ["--store", `sqlite:${tmp.dir}/weft.db`];
  for (const id of ["r1", "r2"]) {
    const first = await weft(
      ["run", "approval.ts", "approval", "--input", 'order="42"', "--run-id", id, "--suspend", "0"]
        .concat(store),
      tmp.dir,
    );
    assert.equal(first.code, 75, first.stderr);
    const sent = await weft(["signal", id, "approve", "true", ...store], tmp.dir);
    assert.equal(sent.code, 0, sent.stderr);
  }
  // weft resume with --suspend, as weft serve resumes a run.
  const resumed = await weft(["resume", "r1", "--suspend", "1m", "--quiet", ...store], tmp.dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(JSON.parse(resumed.stdout), "shipped 42");
  // weft serve itself wakes the other.
  const server = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", `${ROOT}/cli.ts`, "serve", "approval.ts", ...store],
    cwd: tmp.dir,
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const runs = await weft(["runs", "--json", ...store], tmp.dir);
      const r2 = runs.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((r) =>
        r.id === "r2"
      );
      if (r2?.status === "succeeded") break;
      assert.ok(Date.now() < deadline, `r2 finished within a minute: ${runs.stdout}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    Deno.kill(-server.pid, "SIGKILL");
    await server.status;
  }
  for (const id of ["r1", "r2"]) {
    const shown = await weft(["show", id, "--json", ...store], tmp.dir);
    assert.equal(shown.code, 0, shown.stderr);
    const run = JSON.parse(shown.stdout);
    assert.equal(run.status, "succeeded", shown.stdout);
    const status = Object.fromEntries(
      (run.nodes as { id: string; status: string }[]).map((n) => [n.id, n.status]),
    );
    assert.deepEqual(status, {
      "weft.signal": "succeeded",
      "weft.sleep": "cancelled",
      ship: "succeeded",
    });
  }
});

Deno.test("weft run --suspend with a bad duration exits 2 with one line, before loading or printing anything", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.dir}/flows.ts`, SCRIPT);
  const out = await weft(
    [
      "run",
      "flows.ts",
      "approval",
      "--input",
      'order="1"',
      "--suspend",
      "soon",
      "--store",
      "memory",
    ],
    tmp.dir,
  );
  assert.equal(out.code, 2, out.stderr);
  assert.match(
    out.stderr,
    /^weft: Cannot use --suspend as it must be .*current value is "soon"\n$/,
  );
  const help = await weft(["resume", "--help"], tmp.dir);
  assert.match(help.stdout, /--suspend D it is left sleeping again \(exit 75\)/);
});
