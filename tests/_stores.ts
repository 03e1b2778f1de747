// The stores every contract test runs against: in memory, SQLite and, where
// a server can be started, PostgreSQL.

import type { Store } from "../mod.ts";
import { MemoryStore } from "../store.ts";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { postgresMissing, sharedCluster } from "./_postgres.ts";

/** A kind of store, and how to open a fresh one. */
export interface StoreKind {
  name: string;
  /** Why these tests cannot run here, when they cannot. */
  missing?: () => string | undefined;
  open(): Promise<{ store: Store; reopen?: () => Promise<Store>; cleanup(): Promise<void> }>;
}

export const STORE_KINDS: StoreKind[] = [
  {
    name: "memory",
    open: () => {
      const store = new MemoryStore();
      return Promise.resolve({ store, cleanup: () => Promise.resolve() });
    },
  },
  {
    name: "sqlite",
    open: async () => {
      const dir = await Deno.makeTempDir({ prefix: "weft_store_" });
      const path = `${dir}/weft.db`;
      let store: Store = SqliteStore.open(path);
      return {
        store,
        reopen: () => {
          store.close();
          store = SqliteStore.open(path);
          return Promise.resolve(store);
        },
        cleanup: async () => {
          store.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
  {
    name: "postgres",
    missing: postgresMissing,
    open: async () => {
      const url = await (await sharedCluster()).createDatabase("contract");
      let store: Store = await PostgresStore.open(url);
      return {
        store,
        reopen: async () => {
          await store.close();
          store = await PostgresStore.open(url);
          return store;
        },
        cleanup: async () => {
          await store.close();
        },
      };
    },
  },
];
