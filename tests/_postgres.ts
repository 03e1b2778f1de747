// A private PostgreSQL cluster for tests: initdb in a temporary directory,
// listening only on 127.0.0.1 on a free port (unix sockets in the directory),
// started once per test process and stopped when the process ends. initdb and
// postgres refuse to run as root, so as root they run as the `postgres` OS
// user (created by Debian's package) through runuser.

const BIN_DIRS = [
  "/usr/lib/postgresql/15/bin",
  "/usr/lib/postgresql/16/bin",
  "/usr/lib/postgresql/17/bin",
];

/** Where the server binaries are, or undefined when PostgreSQL is not installed. */
export function postgresBin(): string | undefined {
  const env = Deno.env.get("WEFT_PG_BIN");
  for (const dir of env === undefined ? BIN_DIRS : [env, ...BIN_DIRS]) {
    try {
      Deno.statSync(`${dir}/initdb`);
      return dir;
    } catch {
      // next
    }
  }
  return undefined;
}

/** A running private cluster. */
export interface Cluster {
  /** Its directory (data in `data/`, sockets beside it). */
  readonly dir: string;
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** A URL for a database of the cluster (default `postgres`), by 127.0.0.1 or another address it listens on. */
  url(database?: string, host?: string): string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Stops the server (fast shutdown) and starts it again on the same port. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops the server. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again after stop(). */
  start(): Promise<void>;
  /** Runs SQL through psql as the superuser; returns stdout. */
  psql(sql: string, database?: string): Promise<string>;
}

const USER = "weft";
let shared: Promise<Cluster> | undefined;
let databases = 0;

function asRoot(): boolean {
  return Deno.uid() === 0;
}

/** The command line that runs a server binary as a user that may run it. */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  if (!asRoot()) return [bin, args];
  return ["runuser", ["-u", "postgres", "--", bin, ...args]];
}

async function exec(cmd: string, args: string[], what: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${what} failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr).trim()}\n${text}`,
    );
  }
  return text;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts a new private cluster (callers stop it).
 *
 * @param options fsync on or off (off for tests: nothing here survives a power loss anyway).
 * @returns The cluster.
 */
export async function startCluster(
  options: { fsync?: boolean; listen?: string[]; trust?: string[] } = {},
): Promise<Cluster> {
  const bin = postgresBin();
  if (bin === undefined) {
    throw new Error(
      "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); apt-get install postgresql, or run .ci/run",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "weft_pg_" });
  if (asRoot()) {
    const uid = Number((await exec("id", ["-u", "postgres"], "id -u postgres")).trim());
    const gid = Number((await exec("id", ["-g", "postgres"], "id -g postgres")).trim());
    await Deno.chown(dir, uid, gid);
  }
  const data = `${dir}/data`;
  const [initdb, initArgs] = asPostgres(`${bin}/initdb`, [
    "-D",
    data,
    "-U",
    USER,
    "-A",
    "trust",
    "--no-sync",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  await exec(initdb, initArgs, "initdb");
  if (options.trust !== undefined && options.trust.length > 0) {
    // Clients from these networks (test hosts in network namespaces) log in like local ones.
    const hba = `${data}/pg_hba.conf`;
    const lines = options.trust.map((net) => `host all all ${net} trust`).join("\n");
    const [cmd, args] = asPostgres("/bin/sh", ["-c", `echo '${lines}' >> '${hba}'`]);
    await exec(cmd, args, "pg_hba.conf");
  }
  let port = freePort();
  const settings = [
    `-c listen_addresses=${["127.0.0.1", ...(options.listen ?? [])].join(",")}`,
    `-c unix_socket_directories=${dir}`,
    `-c fsync=${options.fsync === false ? "off" : "on"}`,
    `-c synchronous_commit=on`,
    `-c max_connections=200`,
    `-c shared_buffers=64MB`,
  ];
  const ctl = async (args: string[], what: string) => {
    const [cmd, a] = asPostgres(`${bin}/pg_ctl`, args);
    return await exec(cmd, a, what);
  };
  const start = async () => {
    for (let tries = 0;; tries++) {
      try {
        await ctl([
          "start",
          "-w",
          "-t",
          "60",
          "-D",
          data,
          "-l",
          `${dir}/log`,
          "-o",
          [`-p ${port}`, ...settings].join(" "),
        ], "pg_ctl start");
        return;
      } catch (e) {
        // Another process may have taken the port between freePort() and the start.
        if (tries >= 3) throw e;
        port = freePort();
      }
    }
  };
  await start();
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    await ctl(["stop", "-w", "-t", "60", "-D", data, "-m", mode], "pg_ctl stop");
  };
  const cluster: Cluster = {
    dir,
    get port() {
      return port;
    },
    url: (database = "postgres", host = "127.0.0.1") =>
      `postgres://${USER}@${host}:${port}/${database}`,
    createDatabase: async (prefix = "t") => {
      const name = `${prefix}_${Deno.pid}_${++databases}`;
      await cluster.psql(`CREATE DATABASE ${name}`);
      return cluster.url(name);
    },
    restart: async (o = {}) => {
      await stop("fast");
      if (o.downMs) await new Promise((r) => setTimeout(r, o.downMs));
      await start();
    },
    stop,
    start,
    psql: async (sql, database = "postgres") =>
      await exec(
        `${bin}/psql`,
        [
          "-X",
          "-q",
          "-A",
          "-t",
          "-h",
          "127.0.0.1",
          "-p",
          String(port),
          "-U",
          USER,
          "-d",
          database,
          "-c",
          sql,
        ],
        "psql",
      ),
  };
  // Stop it when the test process ends, whatever happened.
  globalThis.addEventListener("unload", () => {
    try {
      const [cmd, a] = asPostgres(`${bin}/pg_ctl`, ["stop", "-w", "-D", data, "-m", "immediate"]);
      new Deno.Command(cmd, { args: a, stdout: "null", stderr: "null" }).outputSync();
    } catch {
      // already stopped
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  });
  return cluster;
}

/**
 * The test process's shared cluster, started on first use (tests isolate
 * themselves with a database each: see `createDatabase`).
 *
 * @returns The cluster.
 */
export function sharedCluster(): Promise<Cluster> {
  return shared ??= startCluster({ fsync: false });
}

/** Whether PostgreSQL tests can run here; the reason when not. */
export function postgresMissing(): string | undefined {
  if (postgresBin() === undefined) {
    return "PostgreSQL is not installed (run .ci/run, or apt-get install postgresql)";
  }
  return undefined;
}
