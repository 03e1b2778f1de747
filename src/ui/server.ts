/**
 * The web UI's server: pages and assets served from this module (no build
 * step), the JSON API, and the event streams, on `Deno.serve`.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { DagDocument } from "../ir/mod.ts";
import type { RunStatus, Store } from "../store/mod.ts";
import { CSS } from "../render/html_assets.ts";
import { SKELETON_CSS } from "../render/skeleton_html.ts";
import { runSkeleton } from "./skeleton.ts";
import { checkRequest, type Gate, isLoopback, newToken } from "./auth.ts";
import { type RunRow, runsPage } from "./data.ts";
import { eventStream, type Listener, RunFeed, StoreWatch } from "./feed.ts";
import { staticGraph } from "./graph.ts";
import { lineageGraph, usesAcrossRuns, usesInRun } from "./lineage.ts";
import { type Describe, fullValue, nodeLine, nodeView, runHeader, timeline } from "./api.ts";
import { runWaits } from "./waits.ts";

/** What the page's action buttons do; the CLI passes the same code its commands run. */
export interface UiActions {
  /**
   * Cancels a running run.
   *
   * @param runId The run.
   * @returns What happened, for the page.
   */
  cancel?(runId: string): Promise<ActionResult>;
  /**
   * Resumes a failed or cancelled run.
   *
   * @param runId The run.
   * @returns The run id and what happened.
   */
  resume?(runId: string): Promise<ActionResult>;
  /**
   * Starts a new run of the same script, entity and inputs.
   *
   * @param runId The run to repeat.
   * @returns The new run's id and what happened.
   */
  rerun?(runId: string): Promise<ActionResult>;
  /**
   * Sends a signal to a run (`weft signal RUN_ID NAME VALUE`).
   *
   * @param runId The run.
   * @param name The signal's name.
   * @param value Its value (JSON).
   * @returns The run and what happened.
   */
  signal?(runId: string, name: string, value: unknown): Promise<ActionResult>;
}

/** What an action did. */
export interface ActionResult {
  /** The run to show next. */
  runId: string;
  /** One line for the page. */
  message: string;
}

/** Options of {@linkcode serveUi}. */
export interface UiOptions {
  /** The store to show. */
  store: Store;
  /**
   * The address to listen on. Any but a loopback address requires a token.
   * @default "127.0.0.1"
   */
  hostname?: string;
  /**
   * The port; 0 picks a free one.
   * @default 8700
   */
  port?: number;
  /**
   * The token every request must carry (`?token=` or `Authorization: Bearer`).
   * @default none on a loopback address; a new random one on any other
   */
  token?: string;
  /** A script to show statically (`weft ui SCRIPT`): its URL and how to compile it. */
  script?: { url: string; dag: () => Promise<DagDocument> };
  /** Loads the IR of a run's script, to show its tasks' declared permissions. */
  describe?: Describe;
  /** What the action buttons do; without one, its button is not shown. */
  actions?: UiActions;
  /** Stops the server. */
  signal?: AbortSignal;
  /**
   * Group repeated calls beyond this many nodes.
   * @default 2000
   */
  groupAt?: number;
}

/** A running UI server. */
export interface UiServer {
  /** The URL to open (with `?token=` when a token is needed). */
  url: string;
  /** The address it listens on. */
  hostname: string;
  /** The port it listens on. */
  port: number;
  /** The token, when one is needed. */
  token: string | undefined;
  /** Stops serving and closes the event streams. */
  close(): Promise<void>;
  /** Settles when the server has stopped. */
  finished: Promise<void>;
  /** Whether a page is open (an event stream is connected). */
  busy(): boolean;
}

const ASSETS: Record<string, string> = {
  "app.js": "text/javascript",
  "dom.js": "text/javascript",
  "graph.js": "text/javascript",
  "runs_page.js": "text/javascript",
  "run_page.js": "text/javascript",
  "panel.js": "text/javascript",
  "timeline.js": "text/javascript",
  "static_page.js": "text/javascript",
  "skeleton.js": "text/javascript",
  "waits.js": "text/javascript",
  "ui.css": "text/css",
  "ui_graph.css": "text/css",
};

const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0f172a"/><path d="M3 4l2.5 8L8 6l2.5 6L13 4" stroke="#22c55e" stroke-width="1.6" fill="none"/></svg>';

const assetCache = new Map<string, Promise<Uint8Array>>();

/** Reads an asset next to this module, from a file or over HTTP (weft imported from a URL). */
function asset(name: string): Promise<Uint8Array> {
  let body = assetCache.get(name);
  if (body === undefined) {
    body = (async () => {
      // The HTML export's styles: one visual language.
      if (name === "graph.css") return new TextEncoder().encode(CSS + SKELETON_CSS);
      const res = await fetch(new URL(`./assets/${name}`, import.meta.url));
      if (!res.ok) throw new Error(`cannot load the UI asset ${name}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    })();
    body.catch(() => assetCache.delete(name));
    assetCache.set(name, body);
  }
  return body;
}

/**
 * Serves the web UI.
 *
 * @example Serve a store on a free port
 * ```ts ignore
 * import { serveUi } from "./src/ui/server.ts";
 * import { openStore } from "./src/store/open.ts";
 * const ui = serveUi({ store: await openStore("sqlite:.weft/weft.db"), port: 0 });
 * console.log(ui.url);
 * ```
 *
 * @param options The store, address, token, script and actions.
 * @returns The server.
 * @throws {ValidationError} When the port is in use or the address cannot be bound.
 */
export function serveUi(options: UiOptions): UiServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const loopback = isLoopback(hostname);
  const token = options.token ?? (loopback ? undefined : newToken());
  if (token !== undefined && !/^[\w.~-]{16,256}$/.test(token)) {
    throw new ValidationError(
      "A UI token must be 16 to 256 letters, digits, '-', '_', '.' or '~' (or leave it out to get a random one)",
    );
  }
  const store = options.store;
  const watch = new StoreWatch(store);
  const feeds = new Map<string, RunFeed>();
  const closing = new AbortController();
  const describeCache = new Map<string, Promise<DagDocument>>();
  const describe: Describe | undefined = options.describe === undefined ? undefined : (script) => {
    let p = describeCache.get(script);
    if (p === undefined) {
      p = options.describe!(script);
      describeCache.set(script, p);
      // A script that failed to load may be fixed: try again next time.
      p.catch(() => describeCache.delete(script));
      // Scripts change: forget a description after a minute.
      setTimeout(() => describeCache.delete(script), 60_000);
    }
    return p;
  };
  let staticDag: Promise<DagDocument> | undefined;
  /** Task counts of finished runs, which do not change until a run is resumed. */
  const counts = new Map<string, { attempts: number; counts: RunRow["counts"] }>();
  let streams = 0;
  /** An event stream that counts as an open page. */
  const stream = (open: (l: Listener) => () => void) =>
    eventStream((l) => {
      streams++;
      const close = open(l);
      return () => {
        streams--;
        close();
      };
    }, closing.signal);

  const gate: Gate = { token, loopback, port: 0 };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port: options.port ?? 8700,
      signal: closing.signal,
      onListen() {},
    }, (req) => handle(req));
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new ValidationError(
        `Port ${
          options.port ?? 8700
        } is in use on ${hostname}; pass --port with another (0 picks a free one)`,
      );
    }
    throw new ValidationError(`Cannot listen on ${hostname}: ${(e as Error).message}`);
  }
  const port = server.addr.port;
  gate.port = port;
  options.signal?.addEventListener("abort", () => close(), { once: true });

  const shown = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  const base = `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}/`;
  const url = token === undefined ? base : `${base}?token=${token}`;

  function feedOf(runId: string): RunFeed {
    let feed = feeds.get(runId);
    if (feed === undefined) {
      feed = new RunFeed(store, watch, runId, () => {
        // Keep a feed a little while after its last page left (a reload comes back).
        setTimeout(() => {
          const f = feeds.get(runId);
          if (f === feed && !closing.signal.aborted) feeds.delete(runId);
        }, 30_000);
      }, options.groupAt);
      feeds.set(runId, feed);
    }
    return feed;
  }

  async function handle(req: Request): Promise<Response> {
    const u = new URL(req.url);
    const refused = checkRequest(gate, req, u);
    if (refused !== undefined) return refused;
    try {
      return withHeaders(await route(req, u));
    } catch (e) {
      if (e instanceof ValidationError) return json({ error: e.message }, 400);
      console.error(`weft ui: ${req.method} ${u.pathname}: ${(e as Error).stack ?? e}`);
      return json({ error: (e as Error).message ?? String(e) }, 500);
    }
  }

  async function route(req: Request, u: URL): Promise<Response> {
    const path = u.pathname;
    if (
      req.method === "GET" &&
      (path === "/" || path === "/script" || /^\/runs\/[^/]+$/.test(path) || path === "/lineage")
    ) {
      return page();
    }
    if (req.method === "GET" && path === "/favicon.ico") {
      return new Response(FAVICON, { headers: { "content-type": "image/svg+xml" } });
    }
    if (req.method === "GET" && path.startsWith("/assets/")) {
      const name = path.slice("/assets/".length);
      const type = name === "graph.css" ? "text/css" : ASSETS[name];
      if (type === undefined) return text("no such asset", 404);
      return new Response(await asset(name) as BodyInit, {
        headers: { "content-type": `${type}; charset=utf-8`, "cache-control": "no-cache" },
      });
    }
    if (!path.startsWith("/api/")) return text("not found", 404);
    const parts = path.slice("/api/".length).split("/").map(decodeURIComponent);
    const q = u.searchParams;
    if (req.method === "GET") {
      if (parts[0] === "info") {
        return json({
          store: store.url,
          script: options.script?.url ?? null,
          actions: {
            cancel: options.actions?.cancel !== undefined,
            resume: options.actions?.resume !== undefined,
            rerun: options.actions?.rerun !== undefined,
            signal: options.actions?.signal !== undefined,
          },
        });
      }
      if (parts[0] === "script" && parts.length === 1) {
        if (options.script === undefined) {
          return json({ error: "weft ui was started without a script" }, 404);
        }
        staticDag ??= options.script.dag();
        const dag = await staticDag.catch((e) => {
          staticDag = undefined;
          throw e;
        });
        return json({ url: options.script.url, graph: await staticGraph(dag) });
      }
      if (parts[0] === "entities") return json(await store.runEntities());
      if (parts[0] === "runs" && parts.length === 1) {
        return json(
          await runsPage(store, {
            ...statusParam(q.get("status")),
            ...(q.get("entity") ? { entity: q.get("entity")! } : {}),
            ...(q.get("q") ? { search: q.get("q")! } : {}),
            ...cursorParam(q.get("before")),
            limit: limitParam(q.get("limit")),
          }, counts),
        );
      }
      if (parts[0] === "events" && parts.length === 1) {
        // The runs page: told when anything changed, at most twice a second.
        return stream((l) => {
          let last = 0;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const stop = watch.subscribe(() => {
            if (timer !== undefined) return;
            timer = setTimeout(() => {
              timer = undefined;
              last = Date.now();
              l.send("changed", "{}");
            }, Math.max(0, last + 500 - Date.now()));
          });
          return () => {
            stop();
            if (timer !== undefined) clearTimeout(timer);
          };
        });
      }
      if (parts[0] === "runs" && parts.length >= 2) {
        const runId = parts[1]!;
        const what = parts[2];
        if (what === undefined) {
          const header = await runHeader(store, runId);
          return header === undefined ? json({ error: `no run '${runId}'` }, 404) : json(header);
        }
        if (what === "events") {
          const feed = feedOf(runId);
          return stream((l) => {
            feed.add(l);
            return () => feed.remove(l);
          });
        }
        if (what === "node") {
          const id = q.get("id");
          if (id === null) return json({ error: "give ?id=NODE_ID" }, 400);
          const view = await nodeView(store, runId, id, describe);
          return view === undefined
            ? json({ error: `run '${runId}' has no node ${JSON.stringify(id)}` }, 404)
            : json(view);
        }
        if (what === "group") {
          const key = q.get("key") ?? "";
          const feed = feedOf(runId);
          if (feed.view === undefined) await feed.refresh();
          const members = feed.view?.members(key);
          if (members === undefined) return json({ error: "no such group" }, 404);
          const offset = Math.max(0, Number(q.get("offset") ?? 0) || 0);
          const limit = limitParam(q.get("limit"), 500);
          return json({
            size: members.length,
            offset,
            nodes: members.slice(offset, offset + limit).map(nodeLine),
          });
        }
        if (what === "skeleton") {
          const drawn = await runSkeleton(store, runId, describe);
          return drawn === undefined ? json({ error: `no run '${runId}'` }, 404) : json(drawn);
        }
        if (what === "waits") {
          const waits = await runWaits(store, runId);
          return waits === undefined ? json({ error: `no run '${runId}'` }, 404) : json(waits);
        }
        if (what === "timeline") {
          const lines = await timeline(store, runId);
          return lines === undefined ? json({ error: `no run '${runId}'` }, 404) : json(lines);
        }
      }
      if (parts[0] === "lineage" && parts.length === 1) {
        const hash = q.get("hash") ?? "";
        const runId = q.get("run");
        const depth = Number(q.get("depth") ?? 3);
        const uses = runId === null ? usesAcrossRuns(store) : await usesInRun(store, runId);
        if (uses === undefined) return json({ error: `no run '${runId}'` }, 404);
        return json(
          await lineageGraph(store, hash, uses, {
            ...(runId === null ? {} : { runId }),
            depth: Number.isFinite(depth) ? depth : 3,
          }),
        );
      }
      if (parts[0] === "values" && parts.length === 2) {
        const value = await fullValue(store, parts[1]!);
        return value === undefined ? json({ error: "no such value" }, 404) : json(value);
      }
      return json({ error: "not found" }, 404);
    }
    if (req.method === "POST" && parts[0] === "runs" && parts.length === 3) {
      const runId = parts[1]!;
      const action = parts[2] as keyof UiActions;
      const fn = options.actions?.[action];
      if (!["cancel", "resume", "rerun", "signal"].includes(action) || fn === undefined) {
        return json({ error: `this server cannot ${action}` }, 404);
      }
      const result = action === "signal"
        ? await options.actions!.signal!(runId, ...await signalBody(req))
        : await (fn as (runId: string) => Promise<ActionResult>).call(options.actions, runId);
      watch.poke();
      return json(result);
    }
    return json({ error: "not found" }, 404);
  }

  function page(): Response {
    const nonce = newToken().slice(0, 24);
    const t = token === undefined ? "" : `?token=${encodeURIComponent(token)}`;
    const imports: Record<string, string> = {};
    for (const name of Object.keys(ASSETS)) {
      if (name.endsWith(".js")) imports[`/assets/${name}`] = `/assets/${name}${t}`;
    }
    const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>weft</title>
<link rel="stylesheet" href="/assets/graph.css${t}">
<link rel="stylesheet" href="/assets/ui.css${t}">
<link rel="stylesheet" href="/assets/ui_graph.css${t}">
<script type="importmap" nonce="${nonce}">${JSON.stringify({ imports })}</script>
<script type="module" src="/assets/app.js${t}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
    return new Response(html, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy":
          `default-src 'none'; script-src 'self' 'nonce-${nonce}'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      },
    });
  }

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= (async () => {
      closing.abort();
      await server.finished;
    })();
    return closed;
  }

  return { url, hostname, port, token, close, finished: server.finished, busy: () => streams > 0 };
}

function withHeaders(res: Response): Response {
  res.headers.set("x-content-type-options", "nosniff");
  res.headers.set("referrer-policy", "no-referrer");
  res.headers.set("x-frame-options", "DENY");
  return res;
}

function json(data: unknown, status = 200): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

function text(body: string, status: number): Response {
  return new Response(`${body}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function statusParam(s: string | null): { status?: RunStatus } {
  if (s === null || s === "") return {};
  if (!["running", "sleeping", "succeeded", "failed", "cancelled"].includes(s)) {
    throw new ValidationError(
      `status must be running, sleeping, succeeded, failed or cancelled, not '${s}'`,
    );
  }
  return { status: s as RunStatus };
}

function cursorParam(s: string | null): { before?: { startedAt: number; id: string } } {
  if (s === null || s === "") return {};
  const cut = s.indexOf(":");
  const startedAt = Number(s.slice(0, cut));
  if (cut < 0 || !Number.isFinite(startedAt)) throw new ValidationError(`bad cursor '${s}'`);
  return { before: { startedAt, id: s.slice(cut + 1) } };
}

/** The name and value of a signal the page sends: `{ "name": …, "value": … }`, at most 1 MB. */
async function signalBody(req: Request): Promise<[string, unknown]> {
  const text = await req.text();
  if (text.length > 1_000_000) {
    throw new ValidationError("A signal's value from the page must be under 1 MB of JSON");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError('Send a signal as JSON: { "name": "approve", "value": true }');
  }
  const { name, value } = (body ?? {}) as { name?: unknown; value?: unknown };
  if (typeof name !== "string") {
    throw new ValidationError("A signal needs a name (a string), such as 'approve'");
  }
  return [name, value === undefined ? true : value];
}

function limitParam(s: string | null, max = 200): number {
  const n = s === null ? 50 : Number(s);
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(`limit must be a positive integer`);
  return Math.min(n, max);
}
