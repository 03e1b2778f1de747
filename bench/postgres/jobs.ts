// The script the PostgreSQL benchmark's workers load: no-op and sleeping
// tasks, fanned out by flows.

import { all, flow, task } from "../../mod.ts";

/** A task that does nothing. */
export const noop = task(function noop(i: number) {
  return i;
});

/** A task that waits (work that is not CPU: I/O, a remote call). */
export const nap = task(async function nap(i: number, ms: number) {
  await new Promise((r) => setTimeout(r, ms));
  return i;
});

/** A fan-out of no-op tasks. */
export const fanNoop = flow(async function* fanNoop(n: number) {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(noop(i));
  return (yield* all(calls)).length;
});

/** A fan-out of sleeping tasks. */
export const fanNap = flow(async function* fanNap(n: number, ms: number) {
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(nap(i, ms));
  return (yield* all(calls)).length;
});
