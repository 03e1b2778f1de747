/**
 * Live updates: noticing that the store changed (also when another process
 * wrote it), reading what changed, and pushing it to the pages that watch,
 * as server-sent events.
 *
 * Nothing runs while nobody watches: the store's file is watched (inotify
 * through `Deno.watchFs`) only while a page is open, and a page is told
 * only what changed.
 *
 * @module
 */

import type { Store } from "../store/mod.ts";
import { RunReader } from "./data.ts";
import { RunView } from "./run_view.ts";
import type { Delta, Snapshot } from "./wire.ts";

/** Calls listeners when the store may have changed. */
export class StoreWatch {
  readonly #store: Store;
  readonly #listeners = new Set<() => void>();
  #watcher: Deno.FsWatcher | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #fallback: ReturnType<typeof setInterval> | undefined;
  #last = 0;
  #count = -1;
  #poked = false;

  /**
   * @param store The store to watch.
   */
  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Calls `fn` (soon, at most every few milliseconds) after each change.
   *
   * @param fn The listener.
   * @returns Stops calling it.
   */
  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      this.#listeners.delete(fn);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** Tells the listeners now (after an action of this server). */
  poke(): void {
    this.#poked = true;
    this.#schedule();
  }

  #start(): void {
    const url = this.#store.url;
    if (url.startsWith("sqlite:")) {
      const path = url.slice("sqlite:".length);
      const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
      // The files themselves, never their directory: watching the directory
      // makes Deno open and close the database's files, and closing any
      // descriptor of a file drops every POSIX lock this process holds on it
      // — SQLite's included. Another process then deletes the WAL as if it
      // were the last reader, and this connection reads a stale snapshot for
      // good (seen on Deno 2.9.6). A commit appends to the WAL (which lives as
      // long as this store is open); a checkpoint writes the file.
      const files = [absolute, `${absolute}-wal`].filter((f) => {
        try {
          return Deno.statSync(f).isFile;
        } catch {
          return false;
        }
      });
      try {
        const watcher = Deno.watchFs(files, { recursive: false });
        this.#watcher = watcher;
        (async () => {
          try {
            for await (const _ of watcher) this.#schedule();
          } catch {
            // closed
          }
        })();
      } catch {
        // No file watching here: the fallback below still notices within a second.
      }
      // Should a change go unnoticed (a file system without inotify), this finds it.
      this.#fallback = setInterval(() => this.#schedule(), 1000);
    } else {
      // A store in this process: its change count is a number in memory, cheap to check often.
      this.#fallback = setInterval(() => this.#schedule(), 50);
    }
    this.#count = this.#changeCount();
  }

  #stop(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#fallback !== undefined) clearInterval(this.#fallback);
    this.#fallback = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Coalesces bursts: listeners run at most every 20 ms. */
  #schedule(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#last + 20 - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // The file changes also when nothing was recorded (a checkpoint): ask the store.
      const count = this.#changeCount();
      if (count === this.#count && !this.#poked) return;
      this.#count = count;
      this.#poked = false;
      this.#last = Date.now();
      for (const fn of [...this.#listeners]) fn();
    }, wait);
  }

  #changeCount(): number {
    try {
      return this.#store.changeCount();
    } catch {
      return -1;
    }
  }
}

/** A page that listens. */
export interface Listener {
  /**
   * Sends one event.
   *
   * @param event The event name.
   * @param data Its JSON text.
   */
  send(event: string, data: string): void;
}

/** The graph of one run and the pages that watch it. */
export class RunFeed {
  readonly #reader: RunReader;
  readonly #watch: StoreWatch;
  readonly #listeners = new Set<Listener>();
  readonly #onIdle: () => void;
  #view: RunView | undefined;
  #unsubscribe: (() => void) | undefined;
  #busy: Promise<void> | undefined;
  #again = false;
  #groupAt: number | undefined;

  /**
   * @param store The store.
   * @param watch The store's change notices.
   * @param runId The run.
   * @param onIdle Called when the last page leaves.
   * @param groupAt Group repeated calls beyond this many nodes (for tests).
   */
  constructor(
    store: Store,
    watch: StoreWatch,
    runId: string,
    onIdle: () => void,
    groupAt?: number,
  ) {
    this.#reader = new RunReader(store, runId);
    this.#watch = watch;
    this.#onIdle = onIdle;
    this.#groupAt = groupAt;
  }

  /** The view, once the run was read. */
  get view(): RunView | undefined {
    return this.#view;
  }

  /**
   * Adds a page: it gets the snapshot (or `waiting` while the run does not exist), then deltas.
   *
   * @param l The page.
   */
  async add(l: Listener): Promise<void> {
    this.#listeners.add(l);
    if (this.#unsubscribe === undefined) {
      this.#unsubscribe = this.#watch.subscribe(() => this.refresh());
    }
    await this.refresh();
    if (!this.#listeners.has(l)) return;
    if (this.#view === undefined) l.send("waiting", "{}");
    else l.send("snapshot", JSON.stringify(this.#view.snapshot()));
  }

  /**
   * Removes a page.
   *
   * @param l The page.
   */
  remove(l: Listener): void {
    this.#listeners.delete(l);
    if (this.#listeners.size === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
      this.#onIdle();
    }
  }

  /**
   * Reads what changed and sends it (one read at a time; changes during a read cause one more).
   *
   * @returns When done.
   */
  refresh(): Promise<void> {
    if (this.#busy !== undefined) {
      this.#again = true;
      return this.#busy;
    }
    this.#busy = (async () => {
      do {
        this.#again = false;
        try {
          await this.#step();
        } catch (e) {
          console.error(`weft ui: reading the run failed: ${(e as Error).message}`);
        }
      } while (this.#again);
      this.#busy = undefined;
    })();
    return this.#busy;
  }

  async #step(): Promise<void> {
    const read = await this.#reader.read();
    if (read === undefined) return;
    if (this.#view === undefined) {
      this.#view = new RunView(read.run, read.nodes, this.#groupAt);
      this.#broadcast("snapshot", this.#view.snapshot());
      return;
    }
    const delta = this.#view.apply(read.run, read.nodes);
    if (delta === "reset") this.#broadcast("snapshot", this.#view.snapshot());
    else if (delta.run !== undefined || delta.units.length > 0 || delta.edges.length > 0) {
      this.#broadcast("delta", delta);
    }
  }

  #broadcast(event: string, data: Snapshot | Delta): void {
    if (this.#listeners.size === 0) return;
    const text = JSON.stringify(data);
    for (const l of this.#listeners) l.send(event, text);
  }
}

/**
 * A server-sent event stream.
 *
 * @param open Called with the stream's sender; returns what to do when the page leaves.
 * @param signal Ends the stream (the server is closing).
 * @returns The response.
 */
export function eventStream(
  open: (l: Listener) => () => void,
  signal: AbortSignal,
): Response {
  const encoder = new TextEncoder();
  let close: (() => void) | undefined;
  let ping: ReturnType<typeof setInterval> | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    if (ping !== undefined) clearInterval(ping);
    signal.removeEventListener("abort", onAbort);
    close?.();
  };
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
  const onAbort = () => {
    finish();
    try {
      controllerRef?.close();
    } catch {
      // already closed
    }
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controllerRef = controller;
      const write = (text: string) => {
        if (done) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          finish();
        }
      };
      write("retry: 1000\n\n");
      // A comment now and then: a page that went away is noticed, and proxies keep the stream.
      ping = setInterval(() => write(": ping\n\n"), 25_000);
      signal.addEventListener("abort", onAbort, { once: true });
      close = open({
        send(event, data) {
          write(`event: ${event}\ndata: ${data}\n\n`);
        },
      });
    },
    cancel() {
      finish();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}
