// One contender of the PostgreSQL benchmark (bench/postgres/pg_bench.ts), in
// a process of its own so that every contender runs under the same load,
// samples alternating: weft from this checkout, weft from another checkout
// (`--weft DIR`, the "before" of a change), or the floor (one autocommitted
// single-row INSERT per step through postgres.js). It reads one command a line
// on stdin — W1, W2, W3, floor, quit — runs it once and prints one JSON line:
// { ms, commits } (commits: weft's group commits during the run).
//
//   deno run -A bench/postgres/contender.ts --url postgres://… [--weft DIR]

import { parseArgs } from "node:util";
import process from "node:process";
import { createInterface } from "node:readline";

const args = parseArgs({
  args: Deno.args,
  options: { url: { type: "string" }, weft: { type: "string" } },
});
const url = args.values.url!;
const root = args.values.weft === undefined
  ? new URL("../../", import.meta.url).href
  : new URL(`file://${args.values.weft.replace(/\/?$/, "/")}`).href;

// deno-lint-ignore no-explicit-any
type Any = any;

const weft: Any = await import(`${root}mod.ts`);
const { PostgresStore }: Any = await import(`${root}src/store/postgres/mod.ts`);
const { all, flow, run, task, wait } = weft;

const noop = task(function noop(i: number) {
  return i;
});
const sequential = flow(async function* sequential(n: number): AsyncGenerator<Any, number, Any> {
  let total = 0;
  for (let i = 0; i < n; i++) total += yield* wait(noop(i));
  return total;
});
const fanned = flow(async function* fanned(n: number): AsyncGenerator<Any, number, Any> {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(noop(i));
  return ((yield* all(calls)) as number[]).reduce((a, b) => a + b, 0);
});
const three = flow(async function* three(): AsyncGenerator<Any, number, Any> {
  let total = 0;
  for (let i = 0; i < 3; i++) total += yield* wait(noop(i));
  return total;
});

const store = await PostgresStore.open(url);
const check = (r: { status: string; errors: { message: string }[] }) => {
  if (r.status !== "succeeded") throw new Error(`a run ${r.status}: ${r.errors[0]?.message}`);
};

// The floor: what one durable commit costs through the same client library.
const { default: postgres } = await import("npm:postgres@3.4.9");
const floorSql = postgres(url, { max: 1, prepare: true, fetch_types: false, onnotice: () => {} });
await floorSql.unsafe(
  `CREATE TABLE IF NOT EXISTS public.floor (id bigserial PRIMARY KEY, run text NOT NULL, step integer NOT NULL, body text)`,
);
let floorRun = 0;

const workloads: Record<string, () => Promise<unknown>> = {
  W1: async () => check(await run(sequential, { n: 1000 }, { store })),
  W2: async () => check(await run(fanned, { n: 1000 }, { store })),
  W3: async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => run(three, {}, { store })));
    for (const r of results) check(r);
  },
  floor: async () => {
    const id = `floor-${++floorRun}`;
    for (let i = 0; i < 1000; i++) {
      await floorSql.unsafe(
        `INSERT INTO public.floor (run, step, body) VALUES ($1, $2, $3)`,
        [id, i, String(i)],
        { prepare: true },
      );
    }
  },
};

const lines = createInterface({ input: process.stdin });
console.log(JSON.stringify({ ready: true }));
for await (const line of lines) {
  const command = line.trim();
  if (command === "quit") break;
  const fn = workloads[command];
  if (fn === undefined) {
    console.log(JSON.stringify({ error: `unknown command ${command}` }));
    continue;
  }
  const commits = store.writer.commits;
  const t0 = performance.now();
  try {
    await fn();
    console.log(
      JSON.stringify({ ms: performance.now() - t0, commits: store.writer.commits - commits }),
    );
  } catch (e) {
    console.log(JSON.stringify({ error: String((e as Error)?.stack ?? e) }));
  }
}
await store.close();
await floorSql.end();
Deno.exit(0);
