/**
 * Connecting to PostgreSQL with postgres.js (`npm:postgres`), loaded only
 * when a `postgres://` store is opened: the package reads `PG*` environment
 * variables when a client is made, so nothing of it loads with weft itself.
 * A URL is parsed here (user, host, port, database, the options weft reads)
 * so that postgres.js is given everything explicitly and reads only the
 * variables listed in {@linkcode PG_ENV}, which `weft run` grants.
 *
 * @module
 */

import type { Options, Sql } from "npm:postgres@3.4.9";
import { ValidationError } from "../../core/errors.ts";

/** The pinned postgres.js specifier. */
export const POSTGRES_JS = "npm:postgres@3.4.9";

/**
 * The environment variables postgres.js may read when a client is made with
 * the options weft passes (and libpq's usual ones weft honours).
 */
export const PG_ENV: readonly string[] = [
  "PGHOST",
  "PGPORT",
  "PGUSER",
  "PGUSERNAME",
  "PGPASSWORD",
  "PGDATABASE",
  "PGAPPNAME",
  "PGSSLMODE",
  "PGTARGETSESSIONATTRS",
];

/** A PostgreSQL client as postgres.js makes it. */
export type PgClient = Sql<Record<string, never>>;

/** Where a `postgres://` URL points. */
export interface PgTarget {
  /** The host name or address. */
  readonly host: string;
  /** The port. */
  readonly port: number;
  /** The database. */
  readonly database: string;
  /** The user. */
  readonly user: string;
  /** The URL with any password replaced by `***`, for messages and listings. */
  readonly display: string;
}

/**
 * Whether a store URL names a PostgreSQL database.
 *
 * @param url A store URL.
 * @returns True for `postgres://…` and `postgresql://…`.
 */
export function isPostgresUrl(url: string): boolean {
  return url.startsWith("postgres://") || url.startsWith("postgresql://");
}

/**
 * Parses a `postgres://user:password@host:port/database?…` URL, filling what
 * it leaves out from `PGHOST`, `PGPORT`, `PGUSER` and `PGDATABASE` when the
 * process may read them (else from libpq's defaults).
 *
 * @param url The URL.
 * @returns Host, port, database, user.
 * @throws {ValidationError} When it does not parse.
 */
export function parsePgUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url.replace(/^postgresql:/, "postgres:"));
  } catch {
    throw new ValidationError(
      `The store ${
        redact(url)
      } is not a valid URL; write postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    );
  }
  const env = (name: string): string | undefined => {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  };
  const host = decodeURIComponent(u.hostname).replace(/^\[|\]$/g, "") || env("PGHOST") ||
    "localhost";
  if (host.startsWith("/")) {
    throw new ValidationError(
      `The store ${
        redact(url)
      } names a unix socket; weft connects over TCP: give a host name or address`,
    );
  }
  const portText = u.port || env("PGPORT") || "5432";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`The store ${redact(url)} has a bad port ${portText}`);
  }
  const user = decodeURIComponent(u.username) || env("PGUSER") || env("PGUSERNAME") ||
    env("USER") || "postgres";
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || env("PGDATABASE") || user;
  return { host, port, database, user, display: redact(url) };
}

/**
 * A URL with its password hidden.
 *
 * @param url The URL.
 * @returns The same URL with `***` for the password.
 */
export function redact(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, "$1:***@");
}

/** Options of {@linkcode connect}. */
export interface ConnectOptions {
  /** Connections in the pool. */
  max: number;
  /**
   * Seconds an idle connection is kept; 0 (the default): until its lifetime
   * (30 minutes) ends. postgres.js arms a timer for it each time a
   * connection goes idle, that is after every statement — for a sequential
   * step, a timer set and cleared per step; the pool is small (4 by default).
   */
  idleTimeout?: number;
  /** Receives LISTEN notifications (a dedicated connection is made for them). */
  onnotify?: (channel: string, payload: string) => void;
}

/**
 * Opens a client pool (lazily: the first query connects).
 *
 * @param url The store URL.
 * @param options Pool size, idle timeout.
 * @returns The client and where it points.
 */
export async function connect(
  url: string,
  options: ConnectOptions,
): Promise<{ sql: PgClient; target: PgTarget }> {
  const target = parsePgUrl(url);
  const { default: postgres } = await import("npm:postgres@3.4.9");
  const u = new URL(url.replace(/^postgresql:/, "postgres:"));
  const password = decodeURIComponent(u.password) || undefined;
  const sslmode = u.searchParams.get("sslmode") ?? undefined;
  const opts: Options<Record<string, never>> = {
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    max: options.max,
    idle_timeout: options.idleTimeout ?? 0,
    connect_timeout: 10,
    max_lifetime: 60 * 30,
    prepare: true,
    fetch_types: false,
    // Every option postgres.js would otherwise look up as PG<NAME> in the
    // environment, so that it reads only the variables of PG_ENV.
    ssl: false,
    keep_alive: 60,
    debug: false,
    publications: "alltables",
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, 20),
    onnotice: () => {},
    // A transaction left open by a stuck process must not hold locks forever.
    connection: {
      application_name: "weft",
      idle_in_transaction_session_timeout: 60000,
    },
    ...(password === undefined ? {} : { password }),
    ...({ max_pipeline: 100, sslnegotiation: null, target_session_attrs: undefined } as Record<
      string,
      unknown
    >),
    ...(sslmode === undefined || sslmode === "disable"
      ? {}
      : { ssl: sslmode as "require" | "prefer" | "verify-full" }),
  };
  return { sql: preparing(postgres(opts) as unknown as PgClient), target };
}

/**
 * A client whose `unsafe` statements with parameters are prepared (named,
 * kept per connection) unless told otherwise. postgres.js leaves `unsafe`
 * unprepared by default, and an unprepared statement with parameters costs
 * two round trips (it asks the server for the parameters' types before it
 * binds them) and a parse and plan on the server every time — for weft's
 * commits, more than the commit itself. weft's statement texts are fixed
 * (they vary by schema and by the shape of a batch, never by a value), so
 * the prepared statements of a connection stay few.
 *
 * @param sql The client.
 * @returns The same client.
 */
export function preparing(sql: PgClient): PgClient {
  const unsafe = sql.unsafe.bind(sql);
  const wrapped = (text: string, args?: unknown[], options?: { prepare?: boolean }) =>
    args === undefined || args.length === 0
      ? unsafe(text, args as never[], options)
      : unsafe(text, args as never[], { prepare: true, ...options });
  (sql as { unsafe: unknown }).unsafe = wrapped;
  return sql;
}
