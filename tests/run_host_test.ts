// The weft run parent trusts its child's store messages no further than the
// one run it owns: these drive the parent's side (cli/run_host.ts) with the
// messages a script could forge, against a real SQLite store, and the child
// side (store/remote.ts) over a direct transport.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { all, flow, run, task, wait } from "../mod.ts";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { acquireRun } from "../src/store/ownership.ts";
import { ProtocolError, StoreHost } from "../src/cli/run_host.ts";
import { ValidationError } from "../mod.ts";
import { REFUSED_QUERIES } from "../src/store/remote_queries.ts";
import {
  RemoteStore,
  type StoreReply,
  type StoreRequest,
  type StoreTransport,
} from "../src/store/remote.ts";
import { tempDir } from "./_helpers.ts";

const start = (runId: string) => ({
  runId,
  entity: "main",
  kind: "flow",
  inputs: {},
  inputsDigest: "{}",
  startedAt: Date.now(),
  weftVersion: "0",
});

const node = (id: string, first: boolean, status = "succeeded") => ({
  id,
  ...(first
    ? {
      first: {
        parentId: null,
        seq: 0,
        entity: "price",
        kind: "task" as const,
        version: "1",
        outputs: ["o0"],
        bare: true,
        digest: "[]",
        call: "price()",
        sources: [],
        whole: [],
      },
    }
    : {}),
  status: status as "succeeded",
  attempt: 1,
  startedAt: 1,
  finishedAt: 2,
  value: "FORGED",
  cachedFrom: null,
  replayed: false,
});

Deno.test("the parent opens only the run it owns, records the script it runs, and refuses malformed or out-of-order messages", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const host = new StoreHost({ store, runId: "mine", script: "file:///real.ts" });
    await assert.rejects(
      () => host.handle({ t: "nodes", nodes: [], puts: [], sync: true }),
      ProtocolError,
      "nothing before the run is opened",
    );
    await assert.rejects(
      () => host.handle({ t: "open", start: { ...start("someone-elses") } }),
      (e: unknown) => e instanceof ProtocolError && /a run other than 'mine'/.test(e.message),
    );
    const opened = await host.handle({
      t: "open",
      start: { ...start("mine"), script: "file:///lie.ts" },
    });
    assert.deepEqual(opened, { t: "opened", previous: null });
    assert.equal((await store.getRun("mine"))?.script, "file:///real.ts");
    await assert.rejects(() => host.handle({ t: "open", start: start("mine") }), ProtocolError);
    await assert.rejects(
      () => host.handle({ t: "nodes", nodes: [node("a", false)], puts: [], sync: true }),
      /node 'a' unknown/,
    );
    await assert.rejects(
      () =>
        host.handle({
          t: "nodes",
          nodes: [{ ...node("b", true), status: "exploded" as "succeeded" }],
          puts: [],
          sync: true,
        }),
      /a malformed node record/,
    );
    assert.deepEqual(
      await host.handle({ t: "nodes", nodes: [node("c", true)], puts: [], sync: true }),
      { t: "synced" },
    );
    assert.equal((await store.getRun("mine"))?.nodes[0]?.id, "c");
    await assert.rejects(
      () => host.handle({ t: "nodes", nodes: [node("c", true)], puts: [], sync: true }),
      /node 'c' added twice/,
    );
    await assert.rejects(
      () => host.handle({ t: "nodes", nodes: [], puts: [["k", "nobody"]], sync: false }),
      /a cache entry of no succeeded node/,
    );
  } finally {
    store.close();
  }
});

Deno.test("the parent scopes cache entries to the script it runs: another script's runs never see them", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const forger = new StoreHost({ store, runId: "f", script: "file:///forger.ts" });
    await forger.handle({ t: "open", start: start("f") });
    await forger.handle({ t: "nodes", nodes: [node("p", true)], puts: [["KEY", "p"]], sync: true });
    await forger.handle({
      t: "finish",
      status: "succeeded",
      outputs: null,
      errors: [],
      finishedAt: 3,
    });
    const shop = new StoreHost({ store, runId: "s", script: "file:///shop.ts" });
    await shop.handle({ t: "open", start: start("s") });
    assert.deepEqual(await shop.handle({ t: "cacheGet", key: "KEY" }), { t: "hit", hit: null });
    const again = new StoreHost({ store, runId: "f2", script: "file:///forger.ts" });
    await again.handle({ t: "open", start: start("f2") });
    assert.deepEqual(await again.handle({ t: "cacheGet", key: "KEY" }), {
      t: "hit",
      hit: { value: "FORGED", from: "f/p" },
    });
  } finally {
    store.close();
  }
});

Deno.test("a run through the remote store records the same as in-process, and is durable where it flushes", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const lease = await acquireRun(store, "remote-1");
  const host = new StoreHost({ store, runId: "remote-1", script: "file:///x.ts" });
  let syncs = 0;
  // The channel: JSON both ways, answered in order, as over the child's pipes.
  let queue = Promise.resolve();
  const transport: StoreTransport = {
    request(m) {
      const copy = JSON.parse(JSON.stringify(m));
      const answer = queue.then(() => host.handle(copy));
      queue = answer.then(() => {});
      return answer.then((r) => {
        if (r?.t === "synced") syncs++;
        return JSON.parse(JSON.stringify(r));
      });
    },
    send(m) {
      const copy = JSON.parse(JSON.stringify(m));
      queue = queue.then(() => host.handle(copy)).then(() => {});
    },
    onWake: () => () => {},
  };
  try {
    const step = task(function step(i: number) {
      return { i, when: new Date(i), big: BigInt(i) };
    });
    const f = flow(async function* chain(n: number) {
      let last;
      for (let i = 0; i < n; i++) last = yield* wait(step(i));
      return last;
    });
    const remote = new RemoteStore(transport, lease.owner);
    const result = await run(f, { n: 5 }, { store: remote, runId: "remote-1" });
    assert.equal(result.status, "succeeded");
    assert.deepEqual(result.outputs, { i: 4, when: new Date(4), big: 4n });
    // A dependent step starts only once its input is durable: a flush per step.
    assert.ok(syncs >= 4, `${syncs} syncs`);
    const details = await store.getRun("remote-1");
    assert.equal(details?.status, "succeeded");
    assert.equal(details?.script, "file:///x.ts");
    assert.deepEqual(details?.nodes.map((n) => [n.id, n.status]), [
      ["step", "succeeded"],
      ["step_2", "succeeded"],
      ["step_3", "succeeded"],
      ["step_4", "succeeded"],
      ["step_5", "succeeded"],
    ]);
    assert.deepEqual(details?.outputs, { i: 4, when: new Date(4), big: 4n });
  } finally {
    await lease.release();
    store.close();
  }
});

Deno.test("flushes asked for in the same turn travel as one request and one commit, each answered only once that commit is durable", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.dir}/weft.db`;
  const store = SqliteStore.open(path);
  const lease = await acquireRun(store, "batched");
  const host = new StoreHost({ store, runId: "batched", script: "file:///x.ts" });
  // Another connection, as a process that crashed and came back would read the file.
  const reader = new DatabaseSync(path, { readOnly: true });
  const succeededOnDisk = () =>
    (reader.prepare("SELECT count(*) AS n FROM nodes WHERE run_id = ? AND status = 'succeeded'")
      .get("batched") as { n: number }).n;
  const requests: { nodes: number; sync: boolean }[] = [];
  const answers: { succeeded: number; synced: boolean }[] = [];
  let received: { id?: number; m: StoreRequest }[] = [];
  let next = 1;
  let queue = Promise.resolve();
  const waiting = new Map<number, (r: StoreReply) => void>();
  // The channel as the child's pipes carry it: messages sent in one turn arrive together.
  const deliver = () => {
    if (received.length === 0) return;
    const batch = received;
    received = [];
    queue = queue.then(() =>
      host.handleMany(batch, (id, reply) => {
        answers.push({ succeeded: succeededOnDisk(), synced: reply.t === "synced" });
        const resolve = waiting.get(id)!;
        waiting.delete(id);
        setTimeout(() => resolve(JSON.parse(JSON.stringify(reply))), 0);
      })
    ).then(() => {});
  };
  const transport: StoreTransport = {
    request(m) {
      const id = next++;
      if (m.t === "nodes") requests.push({ nodes: m.nodes.length, sync: m.sync });
      if (received.length === 0) setTimeout(deliver, 0);
      received.push({ id, m: JSON.parse(JSON.stringify(m)) });
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    send(m) {
      if (m.t === "nodes") requests.push({ nodes: m.nodes.length, sync: m.sync });
      if (received.length === 0) setTimeout(deliver, 0);
      received.push({ m: JSON.parse(JSON.stringify(m)) });
    },
    onWake: () => () => {},
  };
  try {
    // Twelve branches whose first steps finish in the same turn: each acts on its own result.
    const first = task(function first(i: number) {
      return i * 10;
    });
    const second = task(function second(x: number) {
      return x + 1;
    });
    const branch = flow(async function* branch(i: number) {
      const x = yield* wait(first(i));
      return yield* wait(second(x));
    });
    const f = flow(async function* wide(n: number) {
      const hs = [];
      for (let i = 0; i < n; i++) hs.push(branch(i));
      return yield* all(hs);
    });
    const remote = new RemoteStore(transport, lease.owner);
    const result = await run(f, { n: 12 }, { store: remote, runId: "batched" });
    assert.equal(result.status, "succeeded");
    assert.deepEqual(result.outputs, [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 101, 111]);
    const syncs = requests.filter((r) => r.sync);
    // Twelve results acted on at once: far fewer requests than flushes asked for.
    assert.ok(syncs.length <= 4, `${syncs.length} sync requests: ${JSON.stringify(syncs)}`);
    assert.ok(syncs.some((r) => r.nodes >= 12), JSON.stringify(syncs));
    // Every answer was given when its nodes were on disk, read by another connection.
    const syncedAnswers = answers.filter((a) => a.synced);
    assert.equal(syncedAnswers.length, syncs.length);
    for (const a of syncedAnswers) assert.ok(a.succeeded > 0, JSON.stringify(answers));
    assert.equal(succeededOnDisk(), 12 * 2 + 12);
  } finally {
    reader.close();
    await lease.release();
    store.close();
  }
});

Deno.test("requests that arrive together are handled in order: one commit for the flushes among them, answered after it, and a bad message stops the rest", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const lease = await acquireRun(store, "together");
  const host = new StoreHost({ store, runId: "together", script: "file:///x.ts" });
  try {
    await host.handle({ t: "open", start: start("together") });
    const commits = () => (store as unknown as { group: { commits: number } }).group.commits;
    const before = commits();
    const order: string[] = [];
    const flushes = await host.handleMany([
      { id: 1, m: { t: "nodes", nodes: [node("a", true)], puts: [], sync: true } },
      { m: { t: "nodes", nodes: [node("b", true)], puts: [], sync: false } },
      { id: 2, m: { t: "nodes", nodes: [node("c", true)], puts: [], sync: true } },
      { id: 3, m: { t: "cacheGet", key: "k" } },
      { id: 4, m: { t: "nodes", nodes: [node("a", false)], puts: [], sync: true } },
    ], (id, reply) => order.push(`${id}:${reply.t}`));
    assert.deepEqual(order, ["1:synced", "2:synced", "3:hit", "4:synced"]);
    assert.equal(flushes, 2);
    assert.equal(commits() - before, 2);
    const details = await store.getRun("together");
    assert.deepEqual(details?.nodes.map((n) => n.id).sort(), ["a", "b", "c"]);
    const answered: number[] = [];
    await assert.rejects(
      () =>
        host.handleMany([
          { id: 5, m: { t: "nodes", nodes: [node("d", true)], puts: [], sync: true } },
          { id: 6, m: { t: "nodes", nodes: [node("zzz", false)], puts: [], sync: true } },
          { id: 7, m: { t: "nodes", nodes: [node("e", true)], puts: [], sync: true } },
        ], (id) => answered.push(id)),
      /node 'zzz' unknown/,
    );
    // Nothing after the bad message was applied, nor answered.
    assert.deepEqual(answered, []);
    await host.flush();
    const after = await store.getRun("together");
    assert.ok(!after?.nodes.some((n) => n.id === "e"));
  } finally {
    await lease.release();
    store.close();
  }
});

Deno.test("a run's own process is refused every query of the store but those of its own run, each refusal naming what was asked", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  try {
    const lease = await acquireRun(store, "own");
    const asked: string[] = [];
    const transport: StoreTransport = {
      request(m) {
        asked.push(m.t);
        return Promise.reject(new Error(`the owner was asked ${m.t}`));
      },
      send(m) {
        asked.push(m.t);
      },
      onWake: () => () => {},
    };
    const own = new RemoteStore(transport, lease.owner);
    const remote = own as unknown as Record<string, (...args: unknown[]) => unknown>;
    assert.ok(REFUSED_QUERIES.length >= 20);
    for (const name of REFUSED_QUERIES) {
      // Each refused name is a query the real store answers.
      assert.equal(typeof (store as unknown as Record<string, unknown>)[name], "function", name);
      await assert.rejects(
        Promise.resolve().then(() => remote[name]!("own", "n1")),
        (e: Error) => {
          assert.ok(e instanceof ValidationError, `${name}: ${e}`);
          assert.match(
            e.message,
            /^[A-Z][a-z ]+ is not available to a run's own process: the store belongs to the weft run that started it/,
          );
          return true;
        },
      );
    }
    // Another run's record is refused too, without asking the owner.
    await assert.rejects(own.getRun("other"), /Reading run 'other' is not available/);
    assert.equal(own.changeCount(), 0);
    assert.deepEqual(asked, []);
  } finally {
    store.close();
  }
});
