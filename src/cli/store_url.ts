/**
 * What a store URL needs from the process that opens it: the permissions to
 * grant, and a directory the parent creates (the restricted child cannot).
 *
 * @module
 */

import { importLater } from "./command.ts";
import { ValidationError } from "../core/errors.ts";
import type { Permissions } from "../define/permissions.ts";

/**
 * The CLI's default store: `$WEFT_STORE`, else `sqlite:.weft/weft.db`.
 *
 * @returns The store URL.
 */
export function defaultStoreUrl(): string {
  return Deno.env.get("WEFT_STORE") ?? "sqlite:.weft/weft.db";
}

/** A store URL made absolute, with the permissions it needs. */
export interface StoreNeeds {
  /** The URL to pass to the child (paths made absolute). */
  url: string;
  /** What opening it needs. */
  permissions: Permissions;
}

/**
 * Resolves a store URL for a child process and prepares its directory.
 *
 * @param url `memory`, `sqlite:PATH` or `postgres://…`.
 * @returns The absolute URL and the permissions it needs.
 * @throws {ValidationError} On an unknown scheme.
 */
export async function storeNeeds(url: string): Promise<StoreNeeds> {
  if (url === "memory") return { url, permissions: {} };
  if (url.startsWith("sqlite:")) {
    const raw = url.slice("sqlite:".length);
    if (raw === "") {
      throw new ValidationError(
        `The store ${url} names no file; write sqlite:PATH, such as sqlite:.weft/weft.db`,
      );
    }
    const path = raw.startsWith("/") ? raw : `${Deno.cwd()}/${raw}`;
    if (path.includes(",")) {
      throw new ValidationError(
        `The store path ${path} contains a comma, which Deno's permission flags cannot carry; choose another path`,
      );
    }
    const dir = path.slice(0, path.lastIndexOf("/"));
    // Created private, like the store file (see SqliteStore.open): runs hold inputs and outputs.
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new ValidationError(
        `Cannot create the directory ${dir} for the store ${path} (${
          (e as Error).message.split(":")[0]
        }); pass --store sqlite:PATH in a writable place, or set WEFT_STORE`,
      );
    }
    return { url: `sqlite:${path}`, permissions: { read: [path], write: [path] } };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    // (connect.ts only: postgres.js itself loads in the process that opens the store.)
    const { parsePgUrl, PG_ENV } = await importLater<typeof import("../store/postgres/connect.ts")>(
      new URL("../store/postgres/connect.ts", import.meta.url),
    );
    const target = parsePgUrl(url);
    // The child connects where this process resolved (PGHOST and friends filled in here).
    const u = new URL(url.replace(/^postgresql:/, "postgres:"));
    u.hostname = target.host.includes(":") ? `[${target.host}]` : target.host;
    u.port = String(target.port);
    u.username = encodeURIComponent(target.user);
    u.pathname = `/${encodeURIComponent(target.database)}`;
    return {
      url: u.href,
      // (sys hostname: a run's owner and a worker are listed with their host.)
      permissions: {
        net: [`${u.hostname}:${target.port}`],
        env: [...PG_ENV],
        sys: ["hostname"],
      },
    };
  }
  throw new ValidationError(
    `Cannot use the store ${
      JSON.stringify(url)
    }; use memory, sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
  );
}
