/**
 * The options of a PostgreSQL store, and their defaults.
 *
 * @module
 */

/** Options of {@linkcode PostgresStore.open}. */
export interface PostgresStoreOptions {
  /**
   * The PostgreSQL schema weft's tables live in.
   * @default "weft" (or the URL's `?schema=`)
   */
  schema?: string;
  /**
   * Connections in the pool.
   * @default 4
   */
  poolSize?: number;
  /**
   * The most queued changes of a run before a commit is forced.
   * @default 2000
   */
  maxQueued?: number;
  /**
   * The longest a change waits in the queue before a commit, in ms.
   * @default 100
   */
  flushIntervalMs?: number;
  /**
   * How long a write keeps retrying while the server cannot be reached (a
   * restart, a failover), in ms.
   * @default 60000
   */
  retryMs?: number;
}

/**
 * A store's settings: the options given, the URL's `?schema=`, the defaults.
 *
 * @param url The URL, with `?schema=NAME` perhaps.
 * @param options The options given.
 * @returns The schema, the URL without `schema=`, and the other settings.
 */
export function storeOptions(url: string, options: PostgresStoreOptions): {
  schema: string;
  clean: string;
  opts: Required<Omit<PostgresStoreOptions, "schema">>;
} {
  const schemaParam = /[?&]schema=([^&]*)/.exec(url)?.[1];
  const schema = options.schema ?? (schemaParam ? decodeURIComponent(schemaParam) : "weft");
  const clean = url.replace(/([?&])schema=[^&]*&?/, "$1").replace(/[?&]$/, "");
  const opts = {
    poolSize: options.poolSize ?? 4,
    maxQueued: options.maxQueued ?? 2000,
    flushIntervalMs: options.flushIntervalMs ?? 100,
    retryMs: options.retryMs ?? 60_000,
  };
  return { schema, clean, opts };
}
