/**
 * Opening stores by URL: `memory` or `sqlite:PATH`.
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

/**
 * Opens a store by URL.
 *
 * @param url `memory` or `sqlite:PATH`.
 * @returns The store.
 * @throws {ValidationError} On an unknown scheme.
 */
export async function openStore(url: string): Promise<Store> {
  if (url === "memory") return defaultStore();
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path === "") throw new ValidationError(`The store ${url} names no file; write sqlite:PATH`);
    const { SqliteStore } = await import("./sqlite/mod.ts");
    return SqliteStore.open(path);
  }
  throw (new ValidationError(
    `Cannot open the store ${
      JSON.stringify(url)
    }; use "memory" or "sqlite:PATH" (a PostgreSQL store is not part of this version)`,
  ));
}
