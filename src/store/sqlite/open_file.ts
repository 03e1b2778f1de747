/**
 * Opening a store file, and what can be wrong with it: a new store is
 * created private to its user; an existing empty file is refused rather
 * than silently made a store; a store opened for reading only is never
 * written to (no migration, no checkpoint), and on a read-only file system
 * it is read as it is; a file that cannot be created, written, or read is an
 * error that names the store and says what to do.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { ValidationError } from "../../core/errors.ts";
import type { Row } from "./rows.ts";
import { storeError } from "./rows.ts";
import { processAlive } from "../ownership.ts";
import { migrate, SCHEMA_VERSION } from "./schema.ts";

/** How {@linkcode openFile} opens a store. */
export interface OpenFileOptions {
  /** Read only: nothing is ever written to the file. */
  readOnly: boolean;
  /** How long to wait for another process's lock, in ms. */
  busyTimeoutMs: number;
  /** SQLite's `synchronous` setting, for a store opened to write. */
  synchronous: "normal" | "full";
}

/** How long an empty file may take to become a store that another process is creating. */
const EMPTY_WAIT_MS = 1000;

/**
 * Opens a store file (creating or migrating it unless read-only).
 *
 * @param path The file.
 * @param options Read-only, locking, durability.
 * @returns The open database.
 * @throws {ValidationError} For a file that cannot be created, is empty, is not a weft store or is damaged, was written by a newer weft, or cannot be written when it must be.
 */
export function openFile(path: string, options: OpenFileOptions): DatabaseSync {
  if (path === ":memory:") return prepare(new DatabaseSync(path), path, options);
  if (options.readOnly) return openReadOnly(path, options);
  let created = createWhole(path, options);
  if (!created) {
    try {
      // A new store is private to its user (SQLite gives its -wal and -shm
      // files the same mode): runs hold inputs and outputs.
      Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o600 });
      created = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw cannotCreate(path, e);
    }
  }
  if (!created) refuseEmpty(path);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (e) {
    throw storeError(path, e);
  }
  try {
    return prepare(db, path, options);
  } catch (e) {
    db.close();
    throw notWritable(path, e) ?? storeError(path, e);
  }
}

/**
 * Creates a new store whole: made and migrated under a name of its own in
 * the same directory, then linked into place only if nothing is there yet.
 * Created in place, a store is an empty file until SQLite writes its first
 * page, and a process killed in between (it happens: the crash tests kill
 * `weft run` at random moments) would leave an empty file, which is refused.
 *
 * @returns Whether it created the store; false when the file exists, or when
 * this process may not make the file of its own or link it (a run granted
 * only the store's path), which then creates it in place.
 */
function createWhole(path: string, options: OpenFileOptions): boolean {
  try {
    Deno.lstatSync(path);
    // A process killed between linking its store and removing its own name
    // for it leaves that name beside the store.
    clearAbandoned(path);
    return false;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return false;
  }
  clearAbandoned(path);
  const fresh = `${path}.new-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    Deno.writeFileSync(fresh, new Uint8Array(), { createNew: true, mode: 0o600 });
  } catch {
    return false;
  }
  try {
    const db = new DatabaseSync(fresh);
    try {
      prepare(db, fresh, options);
    } finally {
      // (Closing the last connection checkpoints and removes its -wal and -shm files.)
      db.close();
    }
    Deno.linkSync(fresh, path);
    return true;
  } catch {
    // Another process linked its store first, or links are not possible here.
    return false;
  } finally {
    for (const f of [fresh, `${fresh}-wal`, `${fresh}-shm`]) {
      try {
        Deno.removeSync(f);
      } catch {
        // gone already
      }
    }
  }
}

/** Removes the files of stores whose creation a killed process left unfinished (best effort). */
function clearAbandoned(path: string): void {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const prefix = `${path.slice(slash + 1)}.new-`;
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.name.startsWith(prefix)) continue;
      const pid = Number(entry.name.slice(prefix.length).split("-")[0]);
      if (pid === Deno.pid || processAlive(pid) !== false) continue;
      try {
        Deno.removeSync(`${dir}/${entry.name}`);
      } catch {
        // another process cleared it
      }
    }
  } catch {
    // the directory cannot be listed here
  }
}

function prepare(db: DatabaseSync, path: string, options: OpenFileOptions): DatabaseSync {
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
  migrate(db, path);
  return db;
}

function openReadOnly(path: string, options: OpenFileOptions): DatabaseSync {
  refuseEmpty(path);
  let db: DatabaseSync | undefined;
  let version: number;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    version = schemaVersion(db, path, options);
  } catch (e) {
    db?.close();
    if (!/unable to open database file/i.test((e as Error)?.message ?? "")) {
      throw storeError(path, e);
    }
    // A WAL store on a read-only file system: SQLite cannot make the shared
    // memory file beside it, so it reads the file as it is, without locks
    // (nothing can write it there either).
    const url = pathToFileURL(path);
    url.search = "immutable=1";
    try {
      db = new DatabaseSync(url, { readOnly: true });
      version = schemaVersion(db, path, options);
    } catch (e2) {
      db?.close();
      throw storeError(path, e2);
    }
  }
  if (version === SCHEMA_VERSION) return db;
  db.close();
  if (version > SCHEMA_VERSION) {
    throw new ValidationError(
      `The store ${path} was written by a newer weft (schema ${version}; this weft reads up to ${SCHEMA_VERSION}); upgrade weft or use another store`,
    );
  }
  // Written by an older weft: migrate it (which writes), then read.
  try {
    return openFile(path, { ...options, readOnly: false });
  } catch (e) {
    throw new ValidationError(
      `The store ${path} was written by an older weft (schema ${version}) and this weft cannot migrate it to schema ${SCHEMA_VERSION}: ${
        (e as Error).message
      }`,
    );
  }
}

/** The schema version a file records; 0 for a file with no weft tables. */
function schemaVersion(db: DatabaseSync, path: string, options: OpenFileOptions): number {
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[];
  if (!tables.some((t) => t.name === "weft_meta")) {
    throw new ValidationError(
      tables.length === 0
        ? `${path} is an SQLite file with no tables, not a weft store; remove it (weft creates the store) or point --store at another file`
        : `${path} is an SQLite file but not a weft store (no weft_meta table); point --store at another file`,
    );
  }
  const row = db.prepare("SELECT value FROM weft_meta WHERE key = 'schema_version'").get() as
    | Row
    | undefined;
  return row === undefined ? 0 : Number(row.value);
}

/**
 * Refuses an existing empty file: SQLite would silently make it a new store,
 * hiding that something else (a failed copy, a truncation, `touch`) made it.
 * Another weft process may have just created it: it gets a moment to write
 * the store's first page.
 */
function refuseEmpty(path: string): void {
  const deadline = Date.now() + EMPTY_WAIT_MS;
  for (;;) {
    let size: number;
    try {
      size = Deno.statSync(path).size;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return; // SQLite says so, as for any missing file
      throw storeError(path, e);
    }
    if (size > 0) return;
    if (Date.now() >= deadline) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  throw new ValidationError(
    `${path} is an empty file, not a weft store, and weft does not turn it into one; delete it (weft then creates the store there) or point --store at another file`,
  );
}

function isReadOnlyError(e: unknown): boolean {
  const message = (e as Error)?.message ?? "";
  return e instanceof Deno.errors.PermissionDenied ||
    /read-only file system|os error 30|EROFS|EACCES|permission denied/i.test(message);
}

function cannotCreate(path: string, e: unknown): Error {
  if (!isReadOnlyError(e)) return storeError(path, e);
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  return new ValidationError(
    `Cannot create the store ${path}: its directory ${dir} is not writable (${
      (e as Error).message.split(":")[0]
    }); pass --store sqlite:PATH in a writable directory, or set WEFT_STORE`,
  );
}

/** For an existing store that cannot be written: an error saying so, else undefined. */
function notWritable(path: string, e: unknown): Error | undefined {
  const message = (e as Error)?.message ?? "";
  if (!/unable to open database file|readonly database|read-only/i.test(message)) return undefined;
  try {
    Deno.openSync(path, { read: true, write: true }).close();
  } catch (probe) {
    if (!isReadOnlyError(probe)) return undefined;
    return new ValidationError(
      `The store ${path} cannot be written here (${
        (probe as Error).message.split(":")[0]
      }); weft run, resume and cache clear write to their store: pass --store sqlite:PATH in a writable place, or set WEFT_STORE (weft runs, show, lineage and export can still read this one)`,
    );
  }
  return undefined;
}
