// Group commit: the shared component (with a writer that records its
// batches, synchronous like SQLite's or asynchronous like PostgreSQL's) and
// the SQLite store's use of it, several runs sharing commits.

import assert from "node:assert/strict";
import { flow, run, RunOwnedError, task, wait } from "../mod.ts";
import { type CommitMember, GroupCommit } from "../store.ts";
import { SqliteStore } from "../sqlite.ts";
import { tempDir } from "./_helpers.ts";

/** A member that adds its queued items to the batch, and takes them back when a commit fails. */
class Queue implements CommitMember<string[]> {
  queued: string[] = [];
  taken: string[] = [];
  committedCount = 0;
  constructor(readonly name: string, readonly broken = false) {}
  push(item: string): this {
    this.queued.push(`${this.name}:${item}`);
    return this;
  }
  collect(batch: string[]): void {
    if (this.broken) throw new Error(`${this.name} cannot collect`);
    batch.push(...this.queued);
    this.taken = this.queued;
    this.queued = [];
  }
  committed(): void {
    this.committedCount++;
    this.taken = [];
  }
  failed(): void {
    this.queued = [...this.taken, ...this.queued];
    this.taken = [];
  }
}

/** A writer that records each batch; asynchronous ones hold each commit until released. */
function recorder(mode: "sync" | "async") {
  const batches: string[][] = [];
  const releases: (() => void)[] = [];
  let failNext: Error | undefined;
  return {
    batches,
    releases,
    failNext(e: Error) {
      failNext = e;
    },
    writer: {
      open: (): string[] => [],
      write(batch: string[]): void | Promise<void> {
        const error = failNext;
        failNext = undefined;
        if (mode === "sync") {
          if (error) throw error;
          batches.push(batch);
          return;
        }
        return new Promise<void>((resolve, reject) => {
          releases.push(() => {
            if (error) reject(error);
            else {
              batches.push(batch);
              resolve();
            }
          });
        });
      },
    },
  };
}

const turn = () => new Promise((r) => setTimeout(r, 0));

/** Waits (turn by turn, a few seconds at most) until `ready` holds. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ready(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ready(), "waited too long");
}

/** A request's promise (a member alone is committed before `request` returns: nothing to wait for). */
function req<B>(group: GroupCommit<B>, member: CommitMember<B>): Promise<void> {
  return group.request(member) ?? Promise.resolve();
}

Deno.test("requests made in one turn of the event loop share one commit, and resolve once it is written", async () => {
  const rec = recorder("sync");
  const group = new GroupCommit(rec.writer);
  const a = new Queue("a").push("1");
  const b = new Queue("b").push("1");
  group.opened(a);
  group.opened(b);
  const order: string[] = [];
  const done = [
    req(group, a).then(() => order.push("a")),
    req(group, b).then(() => order.push("b")),
    req(group, a).then(() => order.push("a again")),
  ];
  assert.equal(rec.batches.length, 0, "nothing is written before the turn ends");
  await Promise.resolve();
  assert.equal(rec.batches.length, 0, "nor after a microtask");
  await Promise.all(done);
  assert.deepEqual(rec.batches, [["a:1", "b:1"]]);
  // (a's two requests wait on the same commit: one promise.)
  assert.deepEqual(order, ["a", "a again", "b"]);
  assert.equal(group.commits, 1);
  assert.ok(group.idle);
});

Deno.test("with an asynchronous writer, requests made while a commit is in flight go into the next one, and wait for it", async () => {
  const rec = recorder("async");
  const group = new GroupCommit(rec.writer);
  const a = new Queue("a").push("1");
  const b = new Queue("b");
  group.opened(a);
  group.opened(b);
  let aDone = 0;
  const first = req(group, a).then(() => aDone++);
  await until(() => rec.releases.length === 1);
  // Asked while the first is in flight: a's new change and b.
  a.push("2");
  b.push("1");
  let bDone = false;
  const second = [req(group, a).then(() => aDone++), req(group, b).then(() => bDone = true)];
  await turn();
  assert.equal(rec.releases.length, 1, "at most one commit is in flight");
  rec.releases[0]!();
  await first;
  assert.equal(aDone, 1);
  assert.equal(bDone, false, "b waits for the commit that holds its change");
  await until(() => rec.releases.length === 2);
  rec.releases[1]!();
  await Promise.all(second);
  assert.deepEqual(rec.batches, [["a:1"], ["a:2", "b:1"]]);
  assert.equal(aDone, 2);
});

Deno.test("a member that cannot collect fails alone; a failed write fails every member of it, which keep their changes", async () => {
  const rec = recorder("sync");
  const group = new GroupCommit(rec.writer);
  const good = new Queue("good").push("1");
  const bad = new Queue("bad", true).push("1");
  group.opened(good);
  group.opened(bad);
  const results = await Promise.allSettled([req(group, good), req(group, bad)]);
  assert.equal(results[0].status, "fulfilled");
  assert.equal(results[1].status, "rejected");
  assert.match(String((results[1] as PromiseRejectedResult).reason), /bad cannot collect/);
  assert.deepEqual(rec.batches, [["good:1"]]);

  rec.failNext(new Error("disk full"));
  const other = new Queue("other").push("1");
  good.push("2");
  const failed = await Promise.allSettled([req(group, good), req(group, other)]);
  assert.deepEqual(failed.map((r) => r.status), ["rejected", "rejected"]);
  assert.match(String((failed[0] as PromiseRejectedResult).reason), /disk full/);
  assert.deepEqual(good.queued, ["good:2"], "the changes are kept for the next commit");
  await Promise.all([req(group, good), req(group, other)]);
  assert.deepEqual(rec.batches.at(-1), ["good:2", "other:1"]);
});

Deno.test("a member whose committed() throws does not keep the others of its commit from resolving", async () => {
  for (const mode of ["sync", "async"] as const) {
    const rec = recorder(mode);
    const group = new GroupCommit(rec.writer);
    const loud = new (class extends Queue {
      override committed(): void {
        super.committed();
        throw new Error("loud cannot take the news");
      }
    })("loud").push("1");
    const quiet = new Queue("quiet").push("1");
    group.opened(loud);
    group.opened(quiet);
    const done = Promise.allSettled([req(group, loud), req(group, quiet)]);
    if (mode === "async") {
      await until(() => rec.releases.length === 1);
      rec.releases.shift()!();
    }
    const [a, b] = await done;
    assert.equal(a.status, "fulfilled", mode);
    assert.equal(b.status, "fulfilled", mode);
    assert.deepEqual(rec.batches, [["loud:1", "quiet:1"]], mode);
    assert.equal(quiet.committedCount, 1, mode);
    await until(() => group.idle);
  }
});

Deno.test("a member alone (no other open, nothing waiting) is committed at once: before request returns with a synchronous writer", async () => {
  const rec = recorder("sync");
  const group = new GroupCommit(rec.writer);
  const a = new Queue("a").push("1");
  group.opened(a);
  assert.equal(group.request(a), undefined);
  assert.deepEqual(rec.batches, [["a:1"]]);
  assert.equal(a.committedCount, 1);
  // A run start while a's session is open waits for company.
  const start = new Queue("start").push("1");
  const waiting = group.request(start);
  assert.ok(waiting instanceof Promise);
  a.push("2");
  const joined = group.request(a);
  assert.ok(joined instanceof Promise, "a is not alone once something waits");
  await Promise.all([waiting, joined]);
  assert.deepEqual(rec.batches, [["a:1"], ["start:1", "a:2"]]);
  // A failure is thrown, and a keeps its change.
  rec.failNext(new Error("disk full"));
  a.push("3");
  assert.throws(() => group.request(a), /disk full/);
  assert.deepEqual(a.queued, ["a:3"]);
  group.closed(a);
  // With an asynchronous writer the commit starts at once, and a request meanwhile waits for the next.
  const asyncRec = recorder("async");
  const later = new GroupCommit(asyncRec.writer);
  const first = later.request(new Queue("x").push("1"));
  assert.ok(first instanceof Promise);
  assert.equal(asyncRec.releases.length, 1, "in flight before the turn ends");
  const second = later.request(new Queue("y").push("1"))!;
  asyncRec.releases[0]!();
  await first;
  await until(() => asyncRec.releases.length === 2);
  asyncRec.releases[1]!();
  await second;
  assert.deepEqual(asyncRec.batches, [["x:1"], ["y:1"]]);
});

Deno.test("a writer's one queue, asked for by its only open member, is committed at once; with another open, at the end of the turn", async () => {
  const rec = recorder("sync");
  const group = new GroupCommit(rec.writer);
  // The queue every session writes into, and stand-ins for two sessions.
  const queue = new Queue("q");
  const one = new Queue("one");
  const two = new Queue("two");
  group.opened(one);
  queue.push("1");
  assert.equal(group.request(queue, one), undefined, "committed before request returned");
  assert.deepEqual(rec.batches, [["q:1"]]);
  // Asked for by no open member: it waits for the turn (one's session may join).
  queue.push("2");
  const waiting = group.request(queue);
  assert.ok(waiting instanceof Promise);
  await waiting;
  assert.deepEqual(rec.batches, [["q:1"], ["q:2"]]);
  // Two sessions open: the commit waits for the rest of the turn.
  group.opened(two);
  queue.push("3");
  const shared = group.request(queue, one);
  assert.ok(shared instanceof Promise);
  assert.equal(rec.batches.length, 2, "not before the turn ends");
  await shared;
  assert.deepEqual(rec.batches, [["q:1"], ["q:2"], ["q:3"]]);
});

Deno.test("a commit nobody waits for reports its error once; commitNow and settle write at once", async () => {
  const rec = recorder("sync");
  const errors: unknown[] = [];
  const group = new GroupCommit(rec.writer, { onError: (e) => errors.push(e) });
  rec.failNext(new Error("locked"));
  group.note(new Queue("a").push("1"));
  group.note(new Queue("b").push("1"));
  group.commitNow();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /locked/);
  group.note(new Queue("c").push("1"));
  group.commitNow();
  assert.deepEqual(rec.batches, [["c:1"]]);
  const asyncRec = recorder("async");
  const later = new GroupCommit(asyncRec.writer);
  later.note(new Queue("d").push("1"));
  const settled = later.settle();
  await until(() => asyncRec.releases.length === 1);
  asyncRec.releases[0]!();
  await settled;
  assert.deepEqual(asyncRec.batches, [["d:1"]]);
  assert.ok(later.idle);
});

const step = task(function step(i: number) {
  return i;
});
const three = flow(async function* three(i: number) {
  const a = yield* wait(step(i));
  const b = yield* wait(step(a + 1));
  return yield* wait(step(b + 1));
});

Deno.test("runs of one process on a SQLite store share their commits: starts, results and ends", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const before = store.group.commits;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => run(three, { i }, { store })),
    );
    for (const [i, r] of results.entries()) assert.equal(r.outputs, i + 2);
    const commits = store.group.commits - before;
    // The first start alone (nothing to share it with yet), one for the other starts, one per
    // step, one for the ends, however many runs.
    assert.ok(commits <= 6, `${commits} commits for 50 runs of 3 steps`);
    for (const r of results) {
      const recorded = (await store.getRun(r.runId))!;
      assert.equal(recorded.status, "succeeded");
      assert.deepEqual(recorded.nodes.map((n) => [n.id, n.status]), [
        ["step", "succeeded"],
        ["step_2", "succeeded"],
        ["step_3", "succeeded"],
      ]);
    }
  } finally {
    store.close();
  }
});

Deno.test("two starts of the same new run id in one turn: one runs, the other is told it is running", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const [first, second] = await Promise.allSettled([
      run(three, { i: 1 }, { store, runId: "twice" }),
      run(three, { i: 1 }, { store, runId: "twice" }),
    ]);
    assert.equal(first.status, "fulfilled");
    assert.equal((first as PromiseFulfilledResult<{ outputs: unknown }>).value.outputs, 3);
    assert.equal(second.status, "rejected");
    const reason = (second as PromiseRejectedResult).reason;
    assert.ok(reason instanceof RunOwnedError);
    assert.match(reason.message, /run twice is running \(pid \d+ on /);
    assert.equal((await store.listRuns()).length, 1);
  } finally {
    store.close();
  }
});

Deno.test("a shared commit that cannot be written fails the runs that waited on it, clearly, and none hangs", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path, { busyTimeoutMs: 20 });
  const { DatabaseSync } = await import("node:sqlite");
  const holder = new DatabaseSync(path);
  try {
    holder.exec("BEGIN EXCLUSIVE");
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => run(three, { i }, { store })),
    );
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.match(String((r as PromiseRejectedResult).reason), /locked by another process/);
    }
    holder.exec("ROLLBACK");
    // The store works again once the lock is gone.
    assert.equal((await run(three, { i: 5 }, { store })).outputs, 7);
  } finally {
    holder.close();
    store.close();
  }
});

Deno.test("the SQLite store opens a run id once at a time, even when two starts share a commit", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const start = {
    runId: "same",
    entity: "three",
    kind: "flow",
    inputs: { i: 1 },
    inputsDigest: '{"i":1}',
    startedAt: Date.now(),
    weftVersion: "test",
  };
  try {
    // Another session keeps both starts from committing alone: they share one commit.
    const other = await store.openRun({ ...start, runId: "other" });
    const [first, second] = await Promise.allSettled([
      store.openRun(start),
      store.openRun(start),
    ]);
    assert.equal(first.status, "fulfilled");
    assert.equal(second.status, "rejected");
    assert.match(
      String((second as PromiseRejectedResult).reason),
      /Run 'same' is running: another start of the same run id was recorded first/,
    );
    // And once open, the id is refused at once.
    assert.throws(() => store.openRun(start), /Run 'same' is running in this process/);
    await other.finish({ status: "succeeded", outputs: 1, errors: [], finishedAt: Date.now() });
  } finally {
    store.close();
  }
});
