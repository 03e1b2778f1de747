// Deno.bench suites for flows: a sequential chain of no-op tasks and a
// fan-out gathered with `all`, each next to its floor (the baseline of its
// group). Run with `deno bench bench/`; `deno task bench` runs the fuller
// suite (bench/suite.ts), which also reports µs per step and slopes.

import { chainFloor, runChain } from "./workloads/chain.ts";
import { fanOutFloor, runFanOut } from "./workloads/fanout.ts";

for (const n of [1000, 20_000]) {
  const group = `chain of ${n} steps`;
  Deno.bench({
    name: `flow: ${n} sequential no-op tasks`,
    group,
    n: n > 1000 ? 20 : 200,
    warmup: 5,
    fn: async () => await runChain(n),
  });
  Deno.bench({
    name: `floor: loop of ${n} awaits`,
    group,
    baseline: true,
    fn: async () => void await chainFloor(n),
  });
}

for (const n of [10_000, 100_000]) {
  const group = `fan-out of ${n} tasks`;
  Deno.bench({
    name: `flow: 1 → ${n} → 1, gathered with all`,
    group,
    n: n > 10_000 ? 5 : 20,
    warmup: 2,
    fn: async () => await runFanOut(n),
  });
  Deno.bench({
    name: `floor: Promise.all over ${n} async calls`,
    group,
    baseline: true,
    fn: async () => void await fanOutFloor(n),
  });
}
