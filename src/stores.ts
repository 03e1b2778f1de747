/**
 * Opening stores by URL: `memory`, `sqlite:PATH`, `postgres://…`.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";
import { MemoryStore } from "./memory_store.ts";
import type { Store } from "./store.ts";

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
 * @param url `memory`, `sqlite:PATH` or `postgres://…`.
 * @returns The store.
 * @throws {ValidationError} On an unknown scheme.
 */
export function openStore(url: string): Promise<Store> {
  if (url === "memory") return Promise.resolve(defaultStore());
  return Promise.reject(
    new ValidationError(
      `Cannot open the store ${
        JSON.stringify(url)
      }; use "memory", "sqlite:PATH" or "postgres://USER@HOST/DB"`,
    ),
  );
}
