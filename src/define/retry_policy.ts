/**
 * A task's retry policy, as Temporal and DBOS users expect it: how many
 * retries (or unlimited within a deadline), the first delay, the backoff
 * coefficient, the longest delay, jitter that only ever adds, and which
 * errors are retried at all.
 *
 * @module
 */

import { type Duration, parseDuration } from "../core/duration.ts";
import { ValidationError } from "../core/errors.ts";
import type { ErrorClass } from "./defs.ts";

/** The retry options of a task, as written. */
export interface RetryOptions {
  /**
   * How many times to retry after a failure; `Infinity` retries until the
   * task succeeds or `retryDeadline` passes.
   * @default 0
   */
  retries?: number;
  /**
   * The delay before the first retry; 0 retries at once. Never shortened by jitter.
   * @default 100
   */
  retryDelay?: Duration;
  /**
   * How much longer each retry waits than the one before (Temporal's backoff coefficient).
   * @default 2
   */
  backoff?: number;
  /**
   * The longest a retry waits.
   * @default "30s" (or `retryDelay`, when that is longer)
   */
  maxRetryDelay?: Duration;
  /**
   * The most jitter adds to a delay, as a fraction of it (0.1: up to 10% more); 0 for exact
   * delays. Jitter never subtracts, and never goes past `maxRetryDelay`.
   * @default 0.1
   */
  jitter?: number;
  /**
   * How long after the first attempt started a retry may still start: the
   * total deadline that makes `retries: Infinity` end.
   * @default no deadline
   */
  retryDeadline?: Duration;
  /**
   * Decides whether an error is retried (it receives what the task threw);
   * `false` fails the task at once.
   * @default every error is retried
   */
  retryIf?: (error: unknown) => boolean;
  /**
   * Error classes that are never retried (matched with `instanceof`, or by
   * class name for errors that crossed a Worker boundary).
   * @default []
   */
  nonRetryable?: ErrorClass[];
}

/** A retry policy, checked and in milliseconds. */
export interface RetryPolicy {
  /** Retries after a failure. */
  retries: number;
  /** The first delay in ms. */
  retryDelayMs: number;
  /** The backoff coefficient. */
  backoff: number;
  /** The longest delay in ms. */
  maxRetryDelayMs: number;
  /** The most jitter adds, as a fraction. */
  jitter: number;
  /** The deadline in ms from the first attempt, if any. */
  retryDeadlineMs: number | undefined;
  /** The predicate, if any. */
  retryIf: ((error: unknown) => boolean) | undefined;
  /** Errors never retried. */
  nonRetryable: readonly ErrorClass[];
}

/** Retry delays are at most this long unless the task says otherwise. */
export const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;

/**
 * Checks the number of retries.
 *
 * @param retries The option as given.
 * @param what The entity in messages.
 * @returns The number (`Infinity` allowed).
 * @throws {ValidationError} Unless a non-negative integer or `Infinity`.
 */
export function checkRetries(retries: unknown, what: string): number {
  if (retries === Infinity || (Number.isInteger(retries) && (retries as number) >= 0)) {
    return retries as number;
  }
  throw new ValidationError(
    `Cannot retry ${what} as 'retries' must be a non-negative integer or Infinity: current value is ${
      String(retries)
    }`,
  );
}

/**
 * Checks a task's retry options.
 *
 * @param options The options as given.
 * @param what The entity in messages (`task 'fetch'`).
 * @returns The policy.
 * @throws {ValidationError} Naming the option and what it must be.
 */
export function retryPolicy(options: RetryOptions, what: string): RetryPolicy {
  const retries = checkRetries(options.retries ?? 0, what);
  const retryDelayMs = options.retryDelay === undefined
    ? 100
    : parseDuration(options.retryDelay, `the retryDelay of ${what}`, { zero: true });
  const backoff = options.backoff ?? 2;
  if (typeof backoff !== "number" || !Number.isFinite(backoff) || backoff < 1) {
    throw new ValidationError(
      `Cannot retry ${what} as 'backoff' must be a number of at least 1 (1: every retry waits retryDelay): current value is ${
        String(backoff)
      }`,
    );
  }
  let maxRetryDelayMs = Math.max(DEFAULT_MAX_RETRY_DELAY_MS, retryDelayMs);
  if (options.maxRetryDelay !== undefined) {
    maxRetryDelayMs = parseDuration(options.maxRetryDelay, `the maxRetryDelay of ${what}`, {
      zero: true,
    });
    if (maxRetryDelayMs < retryDelayMs) {
      throw new ValidationError(
        `The maxRetryDelay of ${what} (${maxRetryDelayMs} ms) is shorter than its retryDelay (${retryDelayMs} ms); a delay is never shortened, so raise maxRetryDelay or lower retryDelay`,
      );
    }
  }
  const jitter = options.jitter ?? 0.1;
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 1)) {
    throw new ValidationError(
      `Cannot retry ${what} as 'jitter' must be a fraction from 0 to 1 (the most it adds to a delay): current value is ${
        String(jitter)
      }`,
    );
  }
  const retryDeadlineMs = options.retryDeadline === undefined
    ? undefined
    : parseDuration(options.retryDeadline, `the retryDeadline of ${what}`);
  if (options.retryIf !== undefined && typeof options.retryIf !== "function") {
    throw new ValidationError(
      `The 'retryIf' option of ${what} must be a function of the error that returns true to retry`,
    );
  }
  const nonRetryable = options.nonRetryable ?? [];
  if (
    !Array.isArray(nonRetryable) ||
    nonRetryable.some((c) =>
      typeof c !== "function" || !(c.prototype instanceof Error || c === Error)
    )
  ) {
    throw new ValidationError(
      `The 'nonRetryable' option of ${what} must be a list of error classes, such as [TypeError, MyError]`,
    );
  }
  return {
    retries,
    retryDelayMs,
    backoff,
    maxRetryDelayMs,
    jitter,
    retryDeadlineMs,
    retryIf: options.retryIf,
    nonRetryable: [...nonRetryable],
  };
}

/**
 * The delay before the retry that follows attempt `attempt`: the first
 * retry waits `retryDelayMs`, each later one `backoff` times longer, up to
 * `maxRetryDelayMs`. Jitter only ever adds, and never beyond the longest
 * delay: a task that says "retry after 1 s" is never retried sooner.
 *
 * @param policy The policy.
 * @param attempt The attempt that failed, from 1.
 * @param random A number in [0, 1).
 * @returns The delay in ms.
 */
export function delayAfter(policy: RetryPolicy, attempt: number, random: number): number {
  const base = Math.min(
    policy.maxRetryDelayMs,
    policy.retryDelayMs * policy.backoff ** (attempt - 1),
  );
  if (base === 0 || policy.jitter === 0) return Math.ceil(base);
  return Math.ceil(Math.min(base * (1 + policy.jitter * random), policy.maxRetryDelayMs));
}

/**
 * Whether the policy lets an error be retried (the attempt count and the
 * deadline aside).
 *
 * @param policy The policy.
 * @param error What the task threw.
 * @returns False for non-retryable classes and when `retryIf` says no (or throws).
 */
export function mayRetry(policy: RetryPolicy, error: unknown): boolean {
  for (const c of policy.nonRetryable) {
    if (error instanceof c) return false;
    if ((error as { name?: unknown } | null)?.name === c.name && c !== Error) return false;
  }
  if (policy.retryIf === undefined) return true;
  try {
    return policy.retryIf(error) === true;
  } catch {
    return false;
  }
}
