/**
 * PostgreSQL errors: which ones mean the server is (for now) out of reach,
 * and turning the rest into messages that say what to do.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";

/**
 * Whether an error means the connection failed or the server is restarting
 * (worth retrying), rather than that a statement was wrong.
 *
 * @param e The error.
 * @returns True for lost connections and servers shutting down or starting.
 */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; errno?: string; message?: string } | undefined;
  const code = err?.code ?? "";
  if (
    code === "CONNECTION_CLOSED" || code === "CONNECTION_ENDED" ||
    code === "CONNECTION_DESTROYED" || code === "CONNECT_TIMEOUT" || code === "ECONNREFUSED" ||
    code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT" || code === "EHOSTUNREACH"
  ) return true;
  // Class 08: connection exceptions; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
  if (/^08/.test(code) || code === "57P01" || code === "57P02" || code === "57P03") return true;
  return /ECONNREFUSED|ECONNRESET|connection (refused|reset|closed)|Broken pipe|os error 111/i
    .test(err?.message ?? "");
}

/**
 * Waits.
 *
 * @param ms Milliseconds.
 * @returns A promise resolved after them.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Turns errors of opening a store into ones that say what to do.
 *
 * @param display The store URL (password hidden).
 * @param e The error.
 * @returns A `ValidationError` for what a user can fix, else the error.
 */
export function openError(display: string, e: unknown): Error {
  if (e instanceof ValidationError) return e;
  const err = e as { code?: string; message?: string };
  const message = err?.message ?? String(e);
  if (err?.code === "3D000") {
    return new ValidationError(
      `The store ${display} names a database that does not exist: ${message}; create it (createdb) or fix the URL`,
    );
  }
  if (err?.code === "28P01" || err?.code === "28000") {
    return new ValidationError(`The store ${display} refused the login: ${message}`);
  }
  if (/Requires (net|env|read|sys) access/.test(message)) {
    return new ValidationError(`Cannot reach the store ${display}: ${message}`);
  }
  if (isConnectionError(e)) {
    return new ValidationError(
      `Cannot connect to the store ${display}: ${message}; is PostgreSQL running there?`,
    );
  }
  return e instanceof Error ? e : new Error(message);
}
