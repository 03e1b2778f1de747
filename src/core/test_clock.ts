/**
 * The test clock: logical time that starts where you say and moves only
 * when told (`advance`) or, with `autoSkip`, by itself whenever every piece
 * of work it tracks (the runs and schedules using it) waits on one of its
 * timers — so a flow that sleeps for a week finishes in milliseconds, and
 * its record says a week went by.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { type Duration, parseDuration } from "./duration.ts";
import { ValidationError } from "./errors.ts";

/** Options of {@linkcode TestClock}. */
export interface TestClockOptions {
  /**
   * Where time starts.
   * @default 2000-01-01T00:00:00Z
   */
  start?: Date | number | string;
  /**
   * Skip to the next timer whenever every tracked run and schedule waits on
   * a timer; `false` moves time only through {@linkcode TestClock.advance}.
   * @default true
   */
  autoSkip?: boolean;
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock for tests: pass it as `run(…, { clock })` (and to `serve`), and
 * time skips instead of passing.
 *
 * @example A week of sleep in milliseconds
 * ```ts
 * import { flow, run, sleep } from "@weft/weft";
 * import { TestClock } from "@weft/weft/testing";
 * import assert from "node:assert/strict";
 *
 * const week = flow(async function* week() {
 *   yield* sleep("7d");
 *   return "rested";
 * });
 * const clock = new TestClock({ start: "2026-01-01T00:00:00Z" });
 * const result = await run(week, {}, { clock });
 * assert.equal(result.outputs, "rested");
 * assert.equal(new Date(clock.now()).toISOString(), "2026-01-08T00:00:00.000Z");
 * ```
 */
export class TestClock implements Clock {
  #now: number;
  readonly #autoSkip: boolean;
  #timers: Timer[] = [];
  #seq = 0;
  #tracked = new Set<() => boolean>();
  #checkScheduled = false;
  #idleSeen = false;
  #advancing = false;

  /**
   * Makes a clock at its start time.
   *
   * @param options Where time starts; whether it skips by itself.
   * @throws {ValidationError} For a start that is not a date.
   */
  constructor(options: TestClockOptions = {}) {
    const start = options.start ?? Date.UTC(2000, 0, 1);
    const ms = start instanceof Date ? start.getTime() : new Date(start).getTime();
    if (!Number.isFinite(ms)) {
      throw new ValidationError(
        `TestClock needs a start that is a date: current value is ${JSON.stringify(start)}`,
      );
    }
    this.#now = ms;
    this.#autoSkip = options.autoSkip ?? true;
  }

  /** The logical time, in ms since the epoch. */
  now(): number {
    return this.#now;
  }

  /** How many timers are armed. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Arms a timer at a logical time.
   *
   * @param at When, in ms since the epoch.
   * @param fn What to call.
   * @returns A function that cancels it.
   */
  at(at: number, fn: () => void): () => void {
    if (at <= this.#now) {
      // Due already: fires soon, whether time skips or not.
      let live = true;
      setTimeout(() => live && fn(), 0);
      return () => {
        live = false;
      };
    }
    const timer: Timer = { at, seq: this.#seq++, fn };
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.poke();
    return () => {
      const i = this.#timers.indexOf(timer);
      if (i >= 0) this.#timers.splice(i, 1);
    };
  }

  /**
   * Tracks a piece of work: time does not skip while it is busy.
   *
   * @param busy Whether it is busy.
   * @returns Ends the tracking.
   */
  track(busy: () => boolean): () => void {
    this.#tracked.add(busy);
    return () => {
      this.#tracked.delete(busy);
      this.poke();
    };
  }

  /** Looks again, soon, whether time can skip. */
  poke(): void {
    if (!this.#autoSkip || this.#checkScheduled || this.#advancing) return;
    if (this.#timers.length === 0) return;
    this.#checkScheduled = true;
    setTimeout(this.#check, 0);
  }

  #busy(): boolean {
    for (const busy of this.#tracked) if (busy()) return true;
    return false;
  }

  readonly #check = (): void => {
    this.#checkScheduled = false;
    if (this.#advancing || this.#timers.length === 0) return;
    if (this.#busy()) {
      // Work that ends pokes the clock; the retry covers work that ends quietly.
      this.#idleSeen = false;
      this.#checkScheduled = true;
      setTimeout(this.#check, 2);
      return;
    }
    // Idle twice in a row (a macrotask apart), so that work handed between
    // promise chains is not mistaken for idleness.
    if (!this.#idleSeen) {
      this.#idleSeen = true;
      this.#checkScheduled = true;
      setTimeout(this.#check, 0);
      return;
    }
    this.#idleSeen = false;
    this.#fireNext(Infinity);
    this.poke();
  };

  /** Moves to the first timer (if at or before `limit`) and fires every timer due then. */
  #fireNext(limit: number): boolean {
    const first = this.#timers[0];
    if (first === undefined || first.at > limit) return false;
    if (first.at > this.#now) this.#now = first.at;
    while (this.#timers.length > 0 && this.#timers[0]!.at <= this.#now) {
      const timer = this.#timers.shift()!;
      timer.fn();
    }
    return true;
  }

  /** Resolves once every tracked piece of work is idle. */
  async settled(): Promise<void> {
    let idleTwice = 0;
    while (idleTwice < 2) {
      await new Promise((r) => setTimeout(r, 0));
      idleTwice = this.#busy() ? 0 : idleTwice + 1;
    }
  }

  /**
   * Moves time forward by `duration`, firing the timers due on the way in
   * order and letting the work they wake run before the next one.
   *
   * @param duration How far, such as `"1h"` or `"7d"`.
   * @returns Once time has moved and the work woken is idle again.
   */
  async advance(duration: Duration): Promise<void> {
    const ms = duration === 0 ? 0 : parseDuration(duration, "TestClock.advance(duration)");
    const target = this.#now + ms;
    this.#advancing = true;
    try {
      await this.settled();
      while (this.#fireNext(target)) await this.settled();
      this.#now = target;
    } finally {
      this.#advancing = false;
    }
    this.poke();
  }
}
