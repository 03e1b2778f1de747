/**
 * Finding the web UI of a store, or starting one: `weft ui` records where it
 * serves a store in `ui.json` next to the store file, and `weft run --ui`
 * reuses that server when it answers, or starts one in the background that
 * stops by itself once nobody has looked at it for a while.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";

/** What `ui.json` holds. */
export interface UiRecord {
  /** The server's process id. */
  pid: number;
  /** The URL to open (with `?token=` when one is needed). */
  url: string;
  /** The store it serves. */
  store: string;
}

/**
 * Where the UI record of a store lives.
 *
 * @param storeUrl An absolute `sqlite:PATH` URL.
 * @returns The path of `ui.json`.
 * @throws {ValidationError} For a store with no file.
 */
export function uiRecordPath(storeUrl: string): string {
  if (!storeUrl.startsWith("sqlite:")) {
    throw new ValidationError(
      `--ui needs a store in a file (sqlite:PATH): a ${storeUrl} store lives in the run's own process, where no other process can watch it`,
    );
  }
  const path = storeUrl.slice("sqlite:".length);
  return `${path.slice(0, path.lastIndexOf("/"))}/ui.json`;
}

/**
 * Records a serving UI (readable by the user only: it may hold the token).
 *
 * @param storeUrl The store.
 * @param record Where it serves.
 * @returns Removes the record, if it is still this one.
 */
export function writeUiRecord(storeUrl: string, record: UiRecord): () => void {
  const path = uiRecordPath(storeUrl);
  const tmp = `${path}.${record.pid}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
  Deno.renameSync(tmp, path);
  return () => {
    try {
      const now = JSON.parse(Deno.readTextFileSync(path)) as UiRecord;
      if (now.pid === record.pid) Deno.removeSync(path);
    } catch {
      // gone already
    }
  };
}

async function answering(record: UiRecord, storeUrl: string): Promise<boolean> {
  if (record.store !== storeUrl) return false;
  const url = new URL(record.url);
  const token = url.searchParams.get("token");
  try {
    const res = await fetch(new URL("/api/info", url), {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(1500),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return false;
    }
    const info = await res.json() as { store?: string };
    return info.store === storeUrl;
  } catch {
    return false;
  }
}

function readRecord(path: string): UiRecord | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as UiRecord;
  } catch {
    return undefined;
  }
}

/**
 * The URL of a UI serving the store: the one recorded, when it answers, or
 * a new one started in the background (`weft ui --port 0 --idle-exit 30m`).
 *
 * @param storeUrl An absolute `sqlite:PATH` URL.
 * @returns The URL, with `?token=` when one is needed.
 * @throws {ValidationError} When no server could be started.
 */
export async function ensureUi(storeUrl: string): Promise<string> {
  const path = uiRecordPath(storeUrl);
  const existing = readRecord(path);
  if (existing !== undefined && await answering(existing, storeUrl)) return existing.url;
  const cli = new URL("../../cli.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      "--no-prompt",
      cli,
      "ui",
      "--store",
      storeUrl,
      "--port",
      "0",
      "--idle-exit",
      "30m",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  let ended = false;
  child.status.then(() => (ended = true)).catch(() => (ended = true));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !ended) {
    const record = readRecord(path);
    if (record !== undefined && record.pid === child.pid) return record.url;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new ValidationError(
    `Could not start the web UI for ${storeUrl}${
      ended ? " (weft ui exited at once)" : ""
    }; start it yourself with weft ui --store ${storeUrl}`,
  );
}
