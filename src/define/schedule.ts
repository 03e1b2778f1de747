/**
 * Schedules of launch plans: `schedule: "0 2 * * *"` (cron, in a time zone)
 * or `every: "15m"`, with what to do when a run is still going at the next
 * fire time (`overlap`) and how many fires missed while nothing served them
 * to run late (`catchUp`). `weft serve` (and `serve()`) start the runs.
 *
 * @module
 */

import { type Duration, parseDuration } from "../core/duration.ts";
import type { DagSchedule } from "../core/dag_format.ts";
import { ValidationError } from "../core/errors.ts";

/** What a fire does while an earlier run of the same schedule has not finished. */
export type OverlapPolicy = "skip" | "queue" | "allow";

/** The schedule options a launch plan takes. */
export interface ScheduleOptions {
  /** A cron expression (5 fields, or 6 with seconds first), such as `"0 2 * * *"`. */
  schedule?: string;
  /**
   * The IANA time zone the cron expression is read in, such as `"Europe/Paris"`.
   * @default "UTC"
   */
  timezone?: string;
  /** Instead of `schedule`: a fixed interval, fires aligned to multiples of it since the epoch. */
  every?: Duration;
  /**
   * While an earlier run of this launch plan is still running or sleeping: `skip`
   * this fire, `queue` it to start when the earlier ones end, or `allow` both at once.
   * @default "skip"
   */
  overlap?: OverlapPolicy;
  /**
   * How many of the fires missed while nothing served the schedule (the most
   * recent ones) run when serving starts again; 0 skips them all.
   * @default 1
   */
  catchUp?: number;
}

/** A checked schedule. */
export interface ScheduleSpec {
  /** The cron expression, or undefined for an interval. */
  readonly cron: string | undefined;
  /** The time zone of the cron expression. */
  readonly timezone: string;
  /** The interval in ms, or undefined for a cron expression. */
  readonly everyMs: number | undefined;
  /** The overlap policy. */
  readonly overlap: OverlapPolicy;
  /** How many missed fires run late. */
  readonly catchUp: number;
}

/**
 * Checks the schedule options of a launch plan.
 *
 * @param options The launch plan's options.
 * @param name The launch plan's name, for messages.
 * @returns The schedule, or undefined when the plan has none.
 * @throws {ValidationError} Naming what is wrong.
 */
export function checkSchedule(options: ScheduleOptions, name: string): ScheduleSpec | undefined {
  const { schedule, every, timezone, overlap, catchUp } = options;
  const where = `launch plan '${name}'`;
  if (schedule === undefined && every === undefined) {
    for (const [key, value] of Object.entries({ timezone, overlap, catchUp })) {
      if (value !== undefined) {
        throw new ValidationError(
          `The '${key}' of ${where} needs a schedule; add schedule: "0 2 * * *" or every: "15m"`,
        );
      }
    }
    return undefined;
  }
  if (schedule !== undefined && every !== undefined) {
    throw new ValidationError(`${where} has both 'schedule' and 'every'; keep one`);
  }
  if (schedule !== undefined) {
    const fields = typeof schedule === "string" ? schedule.trim().split(/\s+/) : [];
    if (fields.length < 5 || fields.length > 6) {
      throw new ValidationError(
        `The schedule of ${where} must be a cron expression of 5 fields (minute hour day month weekday), or 6 with seconds first, such as "0 2 * * *": current value is ${
          JSON.stringify(schedule)
        }`,
      );
    }
  }
  if (every !== undefined && timezone !== undefined) {
    throw new ValidationError(
      `The 'timezone' of ${where} applies to a cron schedule, not to 'every'; remove it`,
    );
  }
  const zone = timezone ?? "UTC";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    throw new ValidationError(
      `The timezone of ${where} must be an IANA time zone such as "Europe/Paris" or "UTC": current value is ${
        JSON.stringify(zone)
      }`,
    );
  }
  const policy = overlap ?? "skip";
  if (policy !== "skip" && policy !== "queue" && policy !== "allow") {
    throw new ValidationError(
      `The overlap of ${where} must be "skip", "queue" or "allow": current value is ${
        JSON.stringify(overlap)
      }`,
    );
  }
  const n = catchUp ?? 1;
  if (!Number.isInteger(n) || n < 0) {
    throw new ValidationError(
      `Cannot schedule ${where} as 'catchUp' must be a non-negative integer: current value is ${catchUp}`,
    );
  }
  return {
    cron: schedule?.trim(),
    timezone: zone,
    everyMs: every === undefined ? undefined : parseDuration(every, `the 'every' of ${where}`),
    overlap: policy,
    catchUp: n,
  };
}

/**
 * A schedule as a workflow document keeps it (`null` where the spec has
 * nothing).
 *
 * @param spec The schedule.
 * @returns Its `weft.dag/v1` form.
 */
export function dagSchedule(spec: ScheduleSpec): DagSchedule {
  const { cron, timezone, everyMs, overlap, catchUp } = spec;
  return { cron: cron ?? null, timezone, everyMs: everyMs ?? null, overlap, catchUp };
}

/**
 * A schedule read back from a workflow document.
 *
 * @param s Its `weft.dag/v1` form.
 * @returns The schedule.
 */
export function scheduleOfDag(s: DagSchedule): ScheduleSpec {
  const { cron, timezone, everyMs, overlap, catchUp } = s;
  return { cron: cron ?? undefined, timezone, everyMs: everyMs ?? undefined, overlap, catchUp };
}
