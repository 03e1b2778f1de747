/**
 * When schedules fire. Cron expressions are read by croner (npm, MIT, no
 * dependencies, time zones through `Intl`, daylight-saving changes handled),
 * loaded only when a schedule is served or listed; intervals fire at
 * multiples of their length since the epoch, so that every process agrees
 * on the fire times without talking to each other.
 *
 * Deno's own `Deno.cron` does not fit: it needs `--unstable-cron`, reads
 * cron in UTC only, cannot say when it fires next, cannot be driven by a
 * test clock, and has no catch-up or overlap policy.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { ScheduleSpec } from "../define/schedule.ts";

/** The croner version weft uses (pinned). */
const CRONER = "npm:croner@11.0.0";

type CronClass = new (
  pattern: string,
  options: { timezone?: string; paused?: boolean },
) => { nextRun(prev?: Date): Date | null };

let croner: Promise<CronClass> | undefined;

async function cronClass(): Promise<CronClass> {
  croner ??= import(CRONER).then((m) => m.Cron as CronClass);
  return await croner;
}

/** Computes the fire times of one schedule. */
export interface FireTimes {
  /**
   * The first fire time strictly after `after`, or undefined when there is none.
   *
   * @param after A time in ms since the epoch.
   */
  next(after: number): number | undefined;
}

/**
 * The fire times of a schedule.
 *
 * @param spec The schedule.
 * @param name The launch plan's name, for messages.
 * @returns What computes its fire times.
 * @throws {ValidationError} For a cron expression croner refuses.
 */
export async function fireTimes(spec: ScheduleSpec, name: string): Promise<FireTimes> {
  if (spec.everyMs !== undefined) {
    const every = spec.everyMs;
    return { next: (after) => (Math.floor(after / every) + 1) * every };
  }
  const Cron = await cronClass();
  let cron: InstanceType<CronClass>;
  try {
    cron = new Cron(spec.cron!, { timezone: spec.timezone, paused: true });
  } catch (e) {
    throw new ValidationError(
      `The schedule of launch plan '${name}' (${
        JSON.stringify(spec.cron)
      }) is not a cron expression weft reads: ${(e as Error).message}`,
    );
  }
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
  };
}

/**
 * The fire times in `(from, to]`, oldest first, at most the `limit` most recent.
 *
 * @param times The schedule's fire times.
 * @param from Exclusive start (ms since the epoch).
 * @param to Inclusive end.
 * @param limit How many of the most recent to keep.
 * @returns The fire times.
 */
export function firesBetween(times: FireTimes, from: number, to: number, limit: number): number[] {
  if (limit <= 0 || to <= from) return [];
  // Only the most recent fires matter: look back over a window that doubles
  // until it holds enough of them (a schedule missed for a year is not walked
  // fire by fire).
  for (let window = 60_000;; window *= 2) {
    const start = Math.max(from, to - window);
    const out: number[] = [];
    for (let t = times.next(start); t !== undefined && t <= to; t = times.next(t)) {
      out.push(t);
      if (out.length > limit) out.shift();
    }
    if (out.length >= limit || start === from) return out;
  }
}
