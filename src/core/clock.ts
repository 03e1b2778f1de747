/**
 * Clocks: where a run reads the time and arms its durable timers (sleeps,
 * signal timeouts, schedules). The real clock is `Date.now` and
 * `setTimeout`; the test clock (`test_clock.ts`) skips time.
 *
 * @module
 */

/** Where the engine reads the time and arms timers. */
export interface Clock {
  /** The time, in ms since the epoch. */
  now(): number;
  /**
   * Calls `fn` once when the clock reaches `at`.
   *
   * @param at A time in ms since the epoch (at once when past).
   * @param fn What to call.
   * @returns A function that cancels the timer.
   */
  at(at: number, fn: () => void): () => void;
  /**
   * Registers work whose business keeps a skipping clock from skipping: a
   * test clock skips only while every tracked piece of work is idle.
   *
   * @param busy Whether the work is busy now.
   * @returns A function that ends the tracking.
   */
  track?(busy: () => boolean): () => void;
  /** Says that tracked work may have become idle (a skipping clock looks again). */
  poke?(): void;
}

/** The longest delay `setTimeout` takes (about 24.8 days); longer waits are chained. */
const MAX_DELAY = 2 ** 31 - 1;

/** Wall time: `Date.now()` and `setTimeout`, chained for waits longer than `setTimeout` allows. */
export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  at(at: number, fn: () => void): () => void {
    let id: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      const delay = at - Date.now();
      if (delay <= 0) {
        id = undefined;
        fn();
        return;
      }
      id = setTimeout(arm, Math.min(delay, MAX_DELAY));
    };
    id = setTimeout(arm, Math.max(0, Math.min(at - Date.now(), MAX_DELAY)));
    return () => {
      if (id !== undefined) clearTimeout(id);
      id = undefined;
    };
  },
};
