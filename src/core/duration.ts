/**
 * Durations as users write them: a number of milliseconds, or a string such
 * as `"250ms"`, `"30s"`, `"5m"`, `"1h"`.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";

/**
 * A duration: milliseconds as a number, or a string like `"250ms"`, `"30s"`,
 * `"5m"`, `"1h"`, `"3d"`.
 */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Turns a {@linkcode Duration} into milliseconds.
 *
 * @param value The duration.
 * @param what What the duration is for, used in the error message.
 * @param options `zero: true` where no time at all is a meaningful setting (an immediate retry).
 * @returns The duration in milliseconds.
 * @throws {ValidationError} When the value is not a finite, positive (or, with `zero`, non-negative) duration.
 */
export function parseDuration(
  value: unknown,
  what: string,
  options: { zero?: boolean } = {},
): number {
  const fits = (n: number) => Number.isFinite(n) && (n > 0 || (options.zero === true && n === 0));
  const kind = options.zero === true ? "non-negative" : "positive";
  if (typeof value === "number") {
    if (fits(value)) return value;
    throw new ValidationError(
      `Cannot use ${what} as it must be a ${kind} number of milliseconds: current value is ${value}`,
    );
  }
  if (typeof value === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
    if (m && fits(Number(m[1]))) return Number(m[1]) * UNITS[m[2]!]!;
  }
  throw new ValidationError(
    `Cannot use ${what} as it must be milliseconds (${kind}) or a string like "250ms", "30s", "5m", "1h", "3d": current value is ${
      JSON.stringify(value)
    }`,
  );
}
