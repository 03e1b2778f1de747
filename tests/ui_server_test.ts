// The web UI's server without a browser: the run view's layout and groups,
// the change feed over a real SQLite store written by other processes, the
// lineage graph, and the CLI commands it shares with the page.

import assert from "node:assert/strict";
import { flow, run, task, type TaskContext, wait } from "../mod.ts";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { serveUi } from "../src/ui/server.ts";
import { RunView } from "../src/ui/run_view.ts";
import type { UiNode, UiRun } from "../src/ui/wire.ts";
import { isLoopback, newToken, sameToken } from "../src/ui/auth.ts";
import { lineageGraph, usesInRun } from "../src/ui/lineage.ts";
import { deno, tempDir } from "./_helpers.ts";
import { FLOWS, startWeft, stepsRun, until } from "./_ui_helpers.ts";

const RUN: UiRun = {
  id: "r",
  entity: "f",
  kind: "flow",
  status: "running",
  startedAt: 0,
  finishedAt: undefined,
  attempts: 1,
  script: undefined,
};

function node(id: string, fields: Partial<UiNode> = {}): UiNode {
  return {
    id,
    parentId: undefined,
    entity: id.replace(/_\d+$/, ""),
    kind: "task",
    status: "succeeded",
    attempts: 1,
    startedAt: 1,
    finishedAt: 2,
    cachedFrom: undefined,
    replayed: false,
    deps: [],
    error: undefined,
    ...fields,
  };
}

Deno.test("the run view places a node once: later nodes never move earlier ones, and data makes columns", () => {
  const view = new RunView(RUN, [node("a"), node("b", { deps: ["a"] })]);
  const first = view.snapshot();
  const a = first.units.find((u) => u.key === "a")!;
  const b = first.units.find((u) => u.key === "b")!;
  assert.ok(b.x > a.x + a.w, "b is right of a, whose output it takes");
  assert.deepEqual(first.edges, [{ from: "a", to: "b" }]);
  const delta = view.apply(RUN, [
    node("c", { deps: ["a"] }),
    node("d", { deps: ["b", "c"], status: "running", finishedAt: undefined }),
    node("b", { deps: ["a"], status: "failed", error: "no" }),
  ]);
  assert.notEqual(delta, "reset");
  if (delta === "reset") return;
  const units = new Map(delta.units.map((u) => [u.key, u]));
  assert.equal(units.get("b")?.state, "failed");
  assert.equal(units.get("b")?.x, b.x);
  assert.equal(units.get("b")?.y, b.y);
  assert.equal(units.get("c")?.x, b.x, "c takes a's output too: b's column");
  assert.ok(units.get("c")!.y > b.y, "below b");
  assert.ok(units.get("d")!.x > b.x, "d takes b and c");
  assert.equal(units.get("d")?.state, "running");
  assert.deepEqual(delta.edges.map((e) => `${e.from}>${e.to}`).sort(), ["a>c", "b>d", "c>d"]);
});

Deno.test("a flow's calls that take no data go right when the previous one had finished, down when not", () => {
  const view = new RunView(RUN, [
    node("s", { startedAt: 0, finishedAt: 10 }),
    node("s_2", { startedAt: 11, finishedAt: 20 }),
    node("p", { startedAt: 21, finishedAt: 40 }),
    node("p_2", { startedAt: 21, finishedAt: 41 }),
  ]);
  const u = new Map(view.snapshot().units.map((x) => [x.key, x]));
  assert.ok(u.get("s_2")!.x > u.get("s")!.x, "sequential calls go right");
  assert.equal(u.get("s_2")!.y, u.get("s")!.y);
  assert.equal(u.get("p_2")!.x, u.get("p")!.x, "calls made together share a column");
  assert.ok(u.get("p_2")!.y > u.get("p")!.y);
  assert.deepEqual(
    view.snapshot().edges.filter((e) => e.seq).map((e) => `${e.from}>${e.to}`),
    ["s>s_2", "s_2>p"],
  );
  // A loop's next round starts right of the previous round's last call (here a merge).
  const loop = new RunView(RUN, [
    node("fetch", { startedAt: 0, finishedAt: 5 }),
    node("fetch_2", { startedAt: 0, finishedAt: 6 }),
    node("merge", { deps: ["fetch", "fetch_2"], startedAt: 6, finishedAt: 7 }),
    node("fetch_3", { startedAt: 8, finishedAt: 9 }),
    node("fetch_4", { startedAt: 8, finishedAt: 9 }),
  ]);
  const l = new Map(loop.snapshot().units.map((x) => [x.key, x]));
  assert.ok(l.get("fetch_3")!.x > l.get("merge")!.x);
  assert.equal(l.get("fetch_4")!.x, l.get("fetch_3")!.x);
  assert.ok(l.get("fetch_4")!.y > l.get("fetch_3")!.y);
  assert.equal(l.get("fetch_2")!.x, l.get("fetch")!.x);
  assert.ok(loop.snapshot().edges.some((e) => e.seq && e.from === "merge" && e.to === "fetch_3"));
});

Deno.test("beyond the group limit, repeated calls become one box with counts, and crossing it redraws", () => {
  const view = new RunView(RUN, [node("inc"), node("inc_2")], 3);
  assert.equal(view.mode, "nodes");
  const more = [
    node("inc_3", { status: "running", finishedAt: undefined }),
    node("total", { deps: ["inc", "inc_2", "inc_3"], status: "pending", startedAt: undefined }),
  ];
  assert.equal(view.apply(RUN, more), "reset");
  const snap = view.snapshot();
  assert.equal(snap.mode, "groups");
  const group = snap.units.find((u) => u.group?.entity === "inc")!;
  assert.deepEqual(group.group, {
    entity: "inc",
    parentId: null,
    size: 3,
    counts: { succeeded: 2, running: 1 },
  });
  assert.equal(group.state, "running");
  const total = snap.units.find((u) => u.nodeId === "total")!;
  assert.deepEqual(snap.edges, [{ from: group.key, to: total.key }]);
  const delta = view.apply(RUN, [node("inc_3")]);
  assert.notEqual(delta, "reset");
  if (delta !== "reset") {
    assert.deepEqual(delta.units[0]!.group?.counts, { succeeded: 3 });
    assert.equal(delta.units[0]!.state, "succeeded");
  }
  assert.deepEqual(view.members(group.key)!.map((n) => n.id), ["inc", "inc_2", "inc_3"]);
});

Deno.test("tokens: random, compared in full; loopback names are told apart", () => {
  const a = newToken();
  assert.match(a, /^[\w-]{43}$/);
  assert.notEqual(a, newToken());
  assert.ok(sameToken(a, a));
  assert.ok(!sameToken(a, `${a}x`));
  assert.ok(!sameToken(a, a.slice(0, -1)));
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
    assert.ok(isLoopback(h), h);
  }
  for (const h of ["0.0.0.0", "::", "192.168.1.2", "example.com", "127.0.0.1.example.com"]) {
    assert.ok(!isLoopback(h), h);
  }
});

Deno.test("the feed keeps seeing runs of other processes after pages come and go (watching the store's files, not its directory)", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const ui = serveUi({ store, port: 0 });
  try {
    const runOne = async (id: string) => {
      await using r = startWeft(stepsRun(1, 1, `sqlite:${path}`, "--run-id", id));
      assert.equal((await r.result()).code, 0);
      const res = await fetch(`${ui.url}api/runs/${id}`);
      return (await res.json()).status;
    };
    assert.equal(await runOne("one"), "succeeded");
    // A page opens the run's stream, sees a run go by, and leaves.
    const controller = new AbortController();
    const stream = await fetch(`${ui.url}api/runs/one/events`, { signal: controller.signal });
    const reader = stream.body!.getReader();
    const text = new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /retry: 1000/);
    assert.equal(await runOne("two"), "succeeded");
    controller.abort();
    await reader.closed.catch(() => {});
    for (const id of ["three", "four", "five"]) {
      assert.equal(await runOne(id), "succeeded", `run ${id} is seen`);
    }
  } finally {
    await ui.close();
    store.close();
  }
});

Deno.test("the lineage of a value: who made it, who used it, each value once, many users counted", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const one = task(function one() {
      return 1;
    });
    const twice = task(function twice(x: number) {
      return x * 2;
    });
    const wf = flow(async function* fan(n: number) {
      const x = one();
      const ys = [];
      for (let i = 0; i < n; i++) ys.push(twice(x));
      return yield* wait(ys[0]!);
    });
    await run(wf, { n: 12 }, { store, runId: "lin" });
    const hash = (await store.nodeValues("lin", "one"))!.outputs[0]!.hash;
    const uses = await usesInRun(store, "lin");
    const graph = await lineageGraph(store, hash, uses!, { runId: "lin", depth: 2, fanout: 5 });
    const values = graph.boxes.filter((b) => b.kind === "value");
    const focus = graph.boxes.find((b) => b.focus)!;
    assert.equal(focus.ref?.hash, hash);
    assert.equal(focus.lines[0], "1");
    // twice(1) = 2 for every user: drawn once.
    assert.equal(values.filter((b) => b.lines[0] === "2").length, 1);
    assert.equal(graph.boxes.filter((b) => b.ref?.nodeId?.startsWith("twice")).length, 5);
    const more = graph.boxes.find((b) => b.ref?.more !== undefined);
    assert.equal(more?.ref?.more, 7);
    assert.ok(graph.boxes.some((b) => b.ref?.nodeId === "one"));
    assert.ok(graph.arrows.every((a) => a.d.startsWith("M")));
  } finally {
    store.close();
  }
});

Deno.test("weft show prints a run's ctx.log lines and retried attempts, with terminal escapes shown escaped", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using r = startWeft(["run", FLOWS, "failing", "--run-id", "s1", "--store", store]);
  assert.equal((await r.result()).code, 1);
  await using h = startWeft(["run", FLOWS, "hostileFlow", "--run-id", "s2", "--store", store]);
  assert.equal((await h.result()).code, 1);
  const shown = await deno(["run", "-A", "cli.ts", "show", "s1", "--store", store]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^logs \(4\)$/m);
  assert.match(shown.stdout, /step .*step 1 says hello/);
  assert.match(shown.stdout, /boom .*attempt 1 with 2/);
  assert.match(shown.stdout, /boom .*✗ attempt 1 failed, tried again: boom at 2 \(attempt 1\)/);
  assert.match(shown.stdout, /boom .*#2 .*attempt 2 with 2/);
  const json = JSON.parse(
    (await deno(["run", "-A", "cli.ts", "show", "s1", "--json", "--store", store])).stdout,
  );
  assert.deepEqual(json.logs.map((l: { kind: string }) => l.kind), ["log", "log", "retry", "log"]);
  const hostile = await deno(["run", "-A", "cli.ts", "show", "s2", "--store", store]);
  const logs = hostile.stdout.slice(hostile.stdout.indexOf("\nlogs ("));
  assert.ok(!logs.includes("\u001b"), "no raw escape of a log line reaches the terminal");
  assert.match(
    hostile.stdout,
    /log <img src=x onerror=alert\(1\)><\/script><script>alert\(2\)<\/script>\\x1b\[31m/,
  );
});

Deno.test("weft cancel stops a weft run in another process; the run stays resumable", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using r = startWeft([
    "run",
    FLOWS,
    "slow",
    "--input",
    "ms=60000",
    "--run-id",
    "k1",
    "--store",
    store,
  ]);
  const s = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    await until(
      "the slow step to run",
      async () =>
        (await s.runNodes("k1"))?.nodes.some((n) =>
          n.id === "sleepy_3" && n.status === "running"
        ) ||
        undefined,
    );
  } finally {
    s.close();
  }
  const cancelled = await deno(["run", "-A", "cli.ts", "cancel", "k1", "--store", store]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.match(cancelled.stderr, /Run k1 was cancelled; resume it with weft resume k1/);
  assert.equal((await r.result()).code, 130);
  const again = await deno(["run", "-A", "cli.ts", "cancel", "k1", "--store", store]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /Run 'k1' is not running \(it cancelled\)/);
  const none = await deno(["run", "-A", "cli.ts", "cancel", "nope", "--store", store]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /No run 'nope'/);
});

Deno.test("a task's logs reach the store through ctx.log, also when nobody listens to events", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const say = task(function say(x: number, ctx: TaskContext) {
      ctx.log("hello", x);
      return x;
    });
    await run(say, { x: 3 }, { store, runId: "quiet" });
    assert.deepEqual((await store.logs("quiet")).map((l) => l.message), ["hello 3"]);
  } finally {
    store.close();
  }
});

Deno.test("weft rerun starts a new run of a recorded run's script, entity and inputs", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  const first = await deno(["run", "-A", "cli.ts", ...stepsRun(2, 1, store, "--run-id", "r1")]);
  assert.equal(first.code, 0, first.stderr);
  const again = await deno([
    "run",
    "-A",
    "cli.ts",
    "rerun",
    "r1",
    "--run-id",
    "r2",
    "--store",
    store,
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), "2");
  const s = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const r2 = await s.getRun("r2");
    assert.equal(r2?.entity, "steps");
    assert.deepEqual(r2?.inputs, { n: 2, delay: 1 });
    assert.equal(r2?.nodes.length, 2);
  } finally {
    s.close();
  }
  const same = await deno([
    "run",
    "-A",
    "cli.ts",
    "rerun",
    "r1",
    "--run-id",
    "r1",
    "--store",
    store,
  ]);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /use weft resume r1/);
});
