/**
 * The SQLite store's rows (laid out as `../rows.ts` says, shared with the
 * PostgreSQL store), and SQLite's errors turned into ones that say what to do.
 *
 * @module
 */

import { ValidationError } from "../../core/errors.ts";

/** A row as `node:sqlite` returns it. */
export type Row = Record<string, string | number | bigint | null | Uint8Array>;

/**
 * Turns SQLite's errors into ones that say what to do.
 *
 * @param path The store file.
 * @param e The error.
 * @returns A `ValidationError` for what a user can fix, else the error.
 */
export function storeError(path: string, e: unknown): Error {
  if (e instanceof ValidationError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/malformed|corrupt/i.test(message)) {
    return new ValidationError(
      `The store ${path} is damaged (SQLite: ${message}); weft has not changed it. Keep a copy, then recover what is readable with sqlite3 ${path} .recover, or move it away and start a new store (--store)`,
    );
  }
  if (/file is not a database/i.test(message)) {
    return new ValidationError(
      `${path} is not a weft store (SQLite: ${message}); point --store at another file, or move this one away`,
    );
  }
  if (/database is locked|SQLITE_BUSY/i.test(message)) {
    return new ValidationError(
      `The store ${path} is locked by another process that holds it too long; wait for it to finish or use another store`,
    );
  }
  if (/readonly database|read-only file system|os error 30/i.test(message)) {
    return new ValidationError(
      `The store ${path} cannot be written here (${message}); pass --store sqlite:PATH in a writable place, or set WEFT_STORE`,
    );
  }
  if (/unable to open|Requires (read|write) access/i.test(message)) {
    return new ValidationError(`Cannot open the store ${path}: ${message}`);
  }
  return e instanceof Error ? e : new Error(message);
}
