/**
 * The PostgreSQL store, for runs shared by processes on many machines:
 * `run(entity, inputs, { store: "postgres://…" })` opens it by URL, and
 * {@linkcode PostgresStore.open} gives a store object to pass around. It
 * loads postgres.js (`npm:postgres`) only when a store is opened, never
 * with `import "@weft/weft"`.
 *
 * @example Record a run in PostgreSQL
 * ```ts ignore
 * import { run, task } from "@weft/weft";
 * import { PostgresStore } from "@weft/weft/postgres";
 *
 * const add = task(function add(x: number, y: number) { return x + y; });
 * const store = await PostgresStore.open("postgres://weft@127.0.0.1:5432/weft");
 * const result = await run(add, { x: 1, y: 2 }, { store });
 * console.log(result.outputs, await store.listRuns({ limit: 1 }));
 * await store.close();
 * ```
 *
 * @module
 */

export {
  PG_SCHEMA_VERSION,
  PgBrowsing,
  PgOwnership,
  PostgresStore,
} from "./src/store/postgres/mod.ts";
export type { PgTarget, PostgresStoreOptions } from "./src/store/postgres/mod.ts";
