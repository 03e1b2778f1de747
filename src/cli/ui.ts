/**
 * `weft ui [SCRIPT]`: serves the web UI for a store. The page's actions run
 * the same code as the commands: resume and re-run start `weft resume` and
 * `weft run` (as child processes of the server), cancel asks the process
 * that runs the run to stop.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { newRunId } from "../core/run_id.ts";
import type { Store } from "../store/mod.ts";
import { openStore } from "../store/open.ts";
import { type ActionResult, serveUi, type UiActions } from "../ui/server.ts";
import { isLoopback } from "../ui/auth.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { loadScript } from "./load.ts";
import { resolveScript } from "./script.ts";
import { defaultStoreUrl, storeNeeds } from "./store_url.ts";
import { writeUiRecord } from "./ui_link.ts";
import { cancelRun } from "./cancel.ts";
import { parseDuration } from "../core/duration.ts";
import { sendSignal } from "../engine/mod.ts";

const HELP = `Usage: weft ui [SCRIPT] [options]

Serves the web UI of a store: every run (filters, search by id, pages), each
run's graph growing live (runs started by weft run in other terminals
included), a timeline, the panel of any node (inputs, outputs, attempts,
errors with stacks, logs, cache source, declared permissions), the lineage
of any value, and buttons to cancel, resume and re-run a run, and to send a
signal to a run that waits for one (as weft signal does). With SCRIPT, also
the compiled IR of the script, as weft compile sees it (nothing runs).

It listens on 127.0.0.1 unless --host says otherwise. On any address but a
loopback one, every request — pages, assets, the API and the event streams —
must carry the token, as ?token=TOKEN in the URL or as the header
Authorization: Bearer TOKEN. The URL printed includes it.

Options:
  --store S        sqlite:PATH | postgres://… | memory (default sqlite:.weft/weft.db,
                   or $WEFT_STORE)
  --port P         the port (default 8700; 0 picks a free one)
  --host H         the address to listen on (default 127.0.0.1; 0.0.0.0 for every address)
  --token T        the token requests must carry (default: none on a loopback
                   address; a new random one, printed, on any other)
  --open           open the page in a browser
  --idle-exit D    stop after D (such as 30m) with no page open and no run going
  --allow-import H let SCRIPT import modules from host H (repeatable)

stdout gets one line: the URL to open. Stop the server with Ctrl-C; runs it
started from the page are its child processes and stop with it (resumable).`;

/** The `ui` command. */
export const uiCommand: Command = {
  summary: "serve the web UI: runs, live graphs, nodes, lineage, actions",
  help: HELP,
  run: uiMain,
};

async function uiMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("ui", args, {
    store: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    token: { type: "string" },
    open: { type: "boolean" },
    "idle-exit": { type: "string" },
    "allow-import": { type: "string", multiple: true },
  });
  if (positionals.length > 1) {
    throw new UsageError("ui: give at most one SCRIPT (see weft ui --help)");
  }
  const port = values.port === undefined ? 8700 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`ui: --port must be a port number (0 to 65535), not '${values.port}'`);
  }
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  const allowImport = (values["allow-import"] as string[] | undefined) ?? [];
  const idleExit = values["idle-exit"] === undefined
    ? undefined
    : parseDuration(values["idle-exit"] as string, "--idle-exit");
  const needs = await storeNeeds((values.store as string | undefined) ?? defaultStoreUrl());
  const script = positionals[0] === undefined ? undefined : resolveScript(positionals[0]);
  if (script !== undefined) {
    // Fail now, not in the page, when the script does not compile.
    await loadScript(script, { allowImport });
  }
  const store = await openStore(needs.url);
  const stop = new AbortController();
  const actions = new CliActions(store, needs.url);
  let ui;
  try {
    ui = serveUi({
      store,
      hostname: host,
      port,
      ...(values.token === undefined ? {} : { token: values.token as string }),
      ...(script === undefined ? {} : {
        script: {
          url: script.href,
          dag: async () => (await loadScript(script, { allowImport })).dag,
        },
      }),
      describe: async (s) => (await loadScript(new URL(s), { allowImport })).dag,
      actions,
      signal: stop.signal,
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const page = script === undefined ? ui.url : ui.url.replace(/\/(\?|$)/, "/script$1");
  console.log(page);
  console.error(
    `weft: serving ${needs.url} at ${page}${
      isLoopback(host) ? "" : ` (listening on ${host}; every request needs the token)`
    } — Ctrl-C to stop`,
  );
  const forget = needs.url.startsWith("sqlite:")
    ? writeUiRecord(needs.url, { pid: Deno.pid, url: ui.url, store: needs.url })
    : () => {};
  if (values.open === true) openBrowser(page);
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let idle: ReturnType<typeof setInterval> | undefined;
  if (idleExit !== undefined) {
    let quietSince = Date.now();
    idle = setInterval(async () => {
      const busy = ui.busy() || actions.running > 0 ||
        (await store.listRuns({ status: "running", limit: 1 })).length > 0;
      if (busy) quietSince = Date.now();
      else if (Date.now() - quietSince >= idleExit) stop.abort();
    }, Math.min(idleExit, 10_000));
  }
  try {
    await ui.finished;
  } finally {
    if (idle !== undefined) clearInterval(idle);
    forget();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await actions.close();
    await store.close();
  }
  return 0;
}

function openBrowser(url: string): void {
  const cmd = Deno.build.os === "darwin"
    ? "open"
    : Deno.build.os === "windows"
    ? "explorer"
    : "xdg-open";
  try {
    const child = new Deno.Command(cmd, {
      args: [url],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    })
      .spawn();
    child.status.catch(() => {});
  } catch {
    console.error(`weft: could not start a browser (${cmd}); open ${url}`);
  }
}

/** The page's actions, done by the CLI's own commands. */
class CliActions implements UiActions {
  readonly #store: Store;
  readonly #storeUrl: string;
  readonly #children = new Set<Deno.ChildProcess>();

  constructor(store: Store, storeUrl: string) {
    this.#store = store;
    this.#storeUrl = storeUrl;
  }

  /** How many commands started from the page are still running. */
  get running(): number {
    return this.#children.size;
  }

  async cancel(runId: string): Promise<ActionResult> {
    const outcome = await cancelRun(this.#store, runId);
    if (!outcome.stopped) throw new ValidationError(outcome.message);
    return { runId, message: outcome.message };
  }

  async resume(runId: string): Promise<ActionResult> {
    const run = await this.#store.getRun(runId, { nodes: false });
    if (run === undefined) throw new ValidationError(`No run '${runId}' in ${this.#storeUrl}`);
    if (run.status === "running") {
      throw new ValidationError(
        `Run '${runId}' is running; cancel it first, or wait for it to end`,
      );
    }
    if (run.status === "succeeded") throw new ValidationError(`Run '${runId}' already succeeded`);
    if (run.script === undefined) {
      throw new ValidationError(
        `Run '${runId}' was a library call (no script is recorded); resume it with run(entity, inputs, { runId })`,
      );
    }
    await this.#start(["resume", runId, "--store", this.#storeUrl, "--quiet"], runId, run.attempts);
    return { runId, message: `Resuming run ${runId} (weft resume ${runId})` };
  }

  async rerun(runId: string): Promise<ActionResult> {
    const run = await this.#store.getRun(runId, { nodes: false });
    if (run === undefined) throw new ValidationError(`No run '${runId}' in ${this.#storeUrl}`);
    if (run.script === undefined) {
      throw new ValidationError(
        `Run '${runId}' was a library call (no script is recorded), so it cannot be started again from here`,
      );
    }
    const fresh = newRunId();
    await this.#start(
      ["rerun", runId, "--run-id", fresh, "--store", this.#storeUrl, "--quiet"],
      fresh,
      0,
    );
    return { runId: fresh, message: `Started run ${fresh} of ${run.entity} with the same inputs` };
  }

  async signal(runId: string, name: string, value: unknown): Promise<ActionResult> {
    // The same call as weft signal RUN_ID NAME VALUE.
    const seq = await sendSignal(runId, name, value, { store: this.#store });
    const run = await this.#store.getRun(runId, { nodes: false });
    const sent = `Sent signal '${name}' to run ${runId} (its signal #${seq})`;
    return {
      runId,
      message: run?.status === "sleeping"
        ? `${sent}; the run is sleeping: weft serve wakes it, or resume it now`
        : sent,
    };
  }

  /**
   * Starts a weft command and waits until its run is recorded as running
   * (started anew, or resumed: one more attempt), or until the command ends.
   */
  async #start(args: string[], runId: string, attemptsBefore: number): Promise<void> {
    const cli = new URL("../../cli.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--no-prompt", cli, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#children.add(child);
    let stderr = "";
    const drained = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        if (stderr.length < 8192) stderr += decoder.decode(chunk, { stream: true });
      }
    })().catch(() => {});
    let ended = false;
    const status = child.status.then((s) => {
      ended = true;
      this.#children.delete(child);
      return s;
    });
    const deadline = Date.now() + 60_000;
    while (!ended && Date.now() < deadline) {
      const run = await this.#store.getRun(runId, { nodes: false });
      if (run !== undefined && run.attempts > attemptsBefore) return;
      await Promise.race([status, new Promise((r) => setTimeout(r, 50))]);
    }
    if (ended) {
      const s = await status;
      await drained;
      const run = await this.#store.getRun(runId, { nodes: false });
      if (run !== undefined && run.attempts > attemptsBefore) return;
      const why = stderr.trim().split("\n").filter((l) => l.startsWith("weft:")).pop() ??
        stderr.trim();
      throw new ValidationError(
        `weft ${args[0]} exited with code ${s.code} before the run started${
          why ? `: ${why.replace(/^weft: /, "")}` : ""
        }`,
      );
    }
  }

  async close(): Promise<void> {
    for (const child of this.#children) {
      try {
        child.kill("SIGINT");
      } catch {
        // already gone
      }
    }
    await Promise.all([...this.#children].map((c) => c.status.catch(() => {})));
  }
}
