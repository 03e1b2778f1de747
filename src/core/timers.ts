/**
 * Timers that stay set without keeping the process alive: a timer shared by
 * many short-lived users (the heartbeats of runs, a store's periodic commit)
 * is left set when the last user goes, so that the next one reuses it rather
 * than setting and clearing a timer of its own.
 *
 * @module
 */

/**
 * Whether a timer keeps the process alive until it fires (Deno's timer ids
 * and Node's `Timeout` objects alike).
 *
 * @param timer The timer.
 * @param on Keep the process alive.
 */
export function keepAlive(timer: ReturnType<typeof setTimeout>, on: boolean): void {
  if (typeof timer === "number") {
    if (on) Deno.refTimer(timer);
    else Deno.unrefTimer(timer);
    return;
  }
  const t = timer as unknown as { ref(): void; unref(): void };
  if (on) t.ref();
  else t.unref();
}
