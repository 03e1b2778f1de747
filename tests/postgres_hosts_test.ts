// Workers on other hosts: two network namespaces made by the test, each
// joined to this one by a veth pair, reach the database over its own address
// only; they drive a detached run and run all of its calls, so nothing
// depends on sharing a machine (or a loopback) with the process that started
// it. Skipped, saying why, where namespaces cannot be made (not root, no
// CAP_NET_ADMIN, no ip(8)).

import assert from "node:assert/strict";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { ROOT, tempDir } from "./_helpers.ts";
import { postgresMissing, startCluster } from "./_postgres.ts";
import { type Proc, readLog, startWeft, until, workerScript } from "./_workers.ts";

const TAG = String(Deno.pid % 100000);
const HOSTS = [1, 2].map((i) => ({
  ns: `weft${TAG}h${i}`,
  outer: `wo${TAG}h${i}`,
  inner: `wi${TAG}h${i}`,
  db: `10.231.${i}.1`,
  host: `10.231.${i}.2`,
}));

function ip(args: string[]): { ok: boolean; err: string } {
  try {
    const out = new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (e) {
    return { ok: false, err: (e as Error).message };
  }
}

function namespacesMissing(): string | undefined {
  const probe = `weftprobe${TAG}`;
  const made = ip(["netns", "add", probe]);
  if (!made.ok) return `network namespaces cannot be made here (ip netns add: ${made.err})`;
  ip(["netns", "del", probe]);
  return undefined;
}

const why = postgresMissing() ?? namespacesMissing();
if (why !== undefined) console.warn(`weft: the multi-host worker test is skipped: ${why}`);

function makeHosts(): void {
  for (const h of HOSTS) {
    const steps = [
      ["netns", "add", h.ns],
      ["link", "add", h.outer, "type", "veth", "peer", "name", h.inner],
      ["link", "set", h.inner, "netns", h.ns],
      ["addr", "add", `${h.db}/30`, "dev", h.outer],
      ["link", "set", h.outer, "up"],
      ["-n", h.ns, "addr", "add", `${h.host}/30`, "dev", h.inner],
      ["-n", h.ns, "link", "set", h.inner, "up"],
      ["-n", h.ns, "link", "set", "lo", "up"],
    ];
    for (const step of steps) {
      const r = ip(step);
      if (!r.ok) throw new Error(`ip ${step.join(" ")}: ${r.err}`);
    }
  }
}

function removeHosts(): void {
  for (const h of HOSTS) {
    ip(["link", "del", h.outer]);
    ip(["netns", "del", h.ns]);
  }
}

Deno.test({
  name: "workers in two other network namespaces drive a detached run and run all its calls",
  ignore: why !== undefined,
}, async () => {
  removeHosts();
  makeHosts();
  try {
    const cluster = await startCluster({
      fsync: false,
      listen: HOSTS.map((h) => h.db),
      trust: ["10.231.0.0/16"],
    });
    const procs: Proc[] = [];
    try {
      await using tmp = await tempDir();
      const script = `${tmp.dir}/jobs.ts`;
      await Deno.writeTextFile(script, workerScript(`${ROOT}/mod.ts`));
      const url = await cluster.createDatabase("hosts");
      const db = new URL(url).pathname;
      for (const h of HOSTS) {
        procs.push(startWeft([
          "worker",
          script,
          "--store",
          `postgres://weft@${h.db}:${cluster.port}${db}`,
          "--lease",
          "2s",
          "--concurrency",
          "4",
        ], { netns: h.ns, env: { DENO_NO_UPDATE_CHECK: "1" } }));
      }
      const store = await PostgresStore.open(url);
      try {
        await until("both workers", async () => (await store.workers.workers()).length === 2);
        const hosts = new Set((await store.workers.workers()).map((w) => w.pid));
        assert.equal(hosts.size, 2);
        const start = startWeft([
          "run",
          script,
          "fanout",
          "--input",
          "n=60",
          "--input",
          "ms=40",
          "--store",
          url,
          "--detach",
        ]);
        assert.equal((await start.status).code, 0, start.stderr());
        const runId = start.stdout().trim().split(/\s+/).at(-1)!;
        await until("the run to finish", async () => {
          const r = await store.getRun(runId);
          return r !== undefined && r.status !== "running";
        }, 90_000);
        const run = (await store.getRun(runId))!;
        assert.equal(run.status, "succeeded", JSON.stringify(run.errors));
        assert.equal(run.outputs, 59 * 60);
        const log = await readLog(tmp.dir);
        const ranBy = new Set(log.filter((l) => l.what === "start").map((l) => l.pid));
        assert.deepEqual([...ranBy].sort(), procs.map((p) => p.pid).sort());
      } finally {
        await store.close();
      }
    } finally {
      for (const p of procs) p.signal("SIGKILL");
      await Promise.all(procs.map((p) => p.status));
      await cluster.stop("immediate").catch(() => {});
    }
  } finally {
    removeHosts();
  }
});
