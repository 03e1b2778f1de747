/**
 * Durations as users write them: a number of milliseconds, or a string such
 * as `"250ms"`, `"30s"`, `"5m"`, `"1h"`.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";

/** A duration: milliseconds as a number, or a string like `"250ms"`, `"30s"`, `"5m"`, `"1h"`. */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h"}`;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Turns a {@linkcode Duration} into milliseconds.
 *
 * @param value The duration.
 * @param what What the duration is for, used in the error message.
 * @returns The duration in milliseconds.
 * @throws {ValidationError} When the value is not a finite, positive duration.
 */
export function parseDuration(value: unknown, what: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value > 0) return value;
    throw new ValidationError(
      `Cannot use ${what} as it must be a positive number of milliseconds: current value is ${value}`,
    );
  }
  if (typeof value === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
    if (m && Number(m[1]) > 0) return Number(m[1]) * UNITS[m[2]!]!;
  }
  throw new ValidationError(
    `Cannot use ${what} as it must be milliseconds or a string like "250ms", "30s", "5m", "1h": current value is ${
      JSON.stringify(value)
    }`,
  );
}
