/**
 * Opening stores by URL: `memory`, `sqlite:PATH` or `postgres://…` (each
 * store's module, and its dependencies, loaded only when such a URL is opened).
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { MemoryStore } from "./memory.ts";
import type { Store } from "./mod.ts";

const KEY = Symbol.for("weft.memoryStore.v1");

/**
 * The process-wide in-memory store (shared by every copy of weft in the process).
 *
 * @returns The store.
 */
export function defaultStore(): MemoryStore {
  const g = globalThis as unknown as Record<symbol, MemoryStore | undefined>;
  return g[KEY] ??= new MemoryStore();
}

/** Options of {@linkcode openStore}. */
export interface OpenStoreOptions {
  /**
   * Only to read runs: a SQLite file is then never written (nor migrated
   * when up to date), and one on a read-only file system can be read.
   * @default false
   */
  readOnly?: boolean;
}

/**
 * Opens a store by URL.
 *
 * @param url `memory`, `sqlite:PATH` or `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
 * @param options Whether the store is only read.
 * @returns The store.
 * @throws {ValidationError} On an unknown scheme.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (url === "memory") return defaultStore();
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path === "") throw new ValidationError(`The store ${url} names no file; write sqlite:PATH`);
    const { SqliteStore } = await import("./sqlite/mod.ts");
    return SqliteStore.open(path, { readOnly: options.readOnly ?? false });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { PostgresStore } = await import("./postgres/mod.ts");
    return await PostgresStore.open(url);
  }
  throw new ValidationError(
    `Cannot open the store ${
      JSON.stringify(url)
    }; use "memory", "sqlite:PATH" or "postgres://USER:PASSWORD@HOST:PORT/DATABASE"`,
  );
}
