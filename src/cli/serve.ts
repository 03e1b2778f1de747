/**
 * `weft serve SCRIPT…`: a long-running process that starts the runs of the
 * scripts' scheduled launch plans at their fire times and wakes their
 * sleeping runs (timer due, or a signal they wait for arrived). Each run
 * starts or resumes as `weft run` / `weft resume` would, in a child process
 * with exactly the permissions its tasks declare.
 *
 * @module
 */

import { parseDuration } from "../core/duration.ts";
import { ValidationError } from "../core/errors.ts";
import { scheduleOfDag } from "../define/schedule.ts";
import { type Launcher, type ScheduledPlan, serveTarget } from "../engine/serve.ts";
import type { RunStatus } from "../store/mod.ts";
import { openStore } from "../store/open.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { STORE_HELP } from "./history.ts";
import { loadScript } from "./load.ts";
import { resolveScript } from "./script.ts";
import { defaultStoreUrl, storeNeeds } from "./store_url.ts";

/** `weft serve`. */
export const serveCommand: Command = {
  summary: "start scheduled runs and wake sleeping runs, until stopped",
  help: `Usage: weft serve SCRIPT… [--store S] [--poll D] [--suspend D]

Serves the scripts: runs each exported launch plan that has a schedule
(schedule: "0 2 * * *" or every: "15m") at its fire times, applying its
overlap and catch-up policies, wakes the sleeping runs of the scripts when
their timer is due or a signal they wait for arrives, and resumes their runs
whose owner died (its process is gone from this machine, or its lease ran
out): the resume takes the run over, recorded in the store. Each fire time is
recorded in the store once, so several servers (or a restart) start it once;
a run's id is the plan's name and the fire time.

Every run starts (weft run) or resumes (weft resume) in a child process with
exactly the permissions its tasks declare. Stop with Ctrl-C: runs in flight
stop as weft run's do (resumable); sleeping runs stay sleeping.

Options:
${STORE_HELP}
  --poll D    how often to look in the store for runs a signal made due (default 1s)
  --suspend D runs started or woken here go back to sleep, holding no process,
              when their next wake-up is at least D off (default 1m; 0: always)`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("serve", args, {
      store: { type: "string" },
      poll: { type: "string" },
      suspend: { type: "string" },
    });
    if (positionals.length === 0) {
      throw new UsageError("serve: give at least one SCRIPT (see weft serve --help)");
    }
    const storeUrl = (values.store as string | undefined) ?? defaultStoreUrl();
    const needs = await storeNeeds(storeUrl);
    if (needs.url === "memory") {
      throw new ValidationError(
        "weft serve needs a store its runs share (sqlite:PATH): the memory store lives in one process",
      );
    }
    const poll = parseDuration((values.poll as string | undefined) ?? "1s", "--poll");
    const suspend = (values.suspend as string | undefined) ?? "1m";
    if (suspend !== "0") parseDuration(suspend, "--suspend");

    const plans: ScheduledPlan[] = [];
    const scripts = new Map<string, string>();
    for (const path of positionals) {
      const url = resolveScript(path);
      const described = await loadScript(url);
      scripts.set(url.href, path);
      for (const lp of described.dag.launchPlans) {
        if (lp.schedule === undefined) continue;
        if (!described.exports.some((e) => e.kind === "launchPlan" && e.name === lp.name)) {
          throw new ValidationError(
            `${path} schedules launch plan '${lp.name}' but does not export it; export it so that weft serve can run it`,
          );
        }
        plans.push({ name: lp.name, schedule: scheduleOfDag(lp.schedule), script: url.href });
      }
    }
    const common = ["--store", needs.url, "--suspend", suspend, "--quiet"];
    const launcher: Launcher = {
      start: (plan, runId) =>
        runCli("run", [scripts.get(plan.script!)!, plan.name, "--run-id", runId, ...common]),
      resume: (run) => runCli("resume", [run.id, ...common]),
    };
    const store = await openStore(needs.url);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    const say = (line: string) => console.error(`weft serve: ${line}`);
    say(
      `serving ${plans.length} schedule${plans.length === 1 ? "" : "s"} (${
        plans.map((p) => p.name).join(", ") || "none"
      }) and the sleeping runs of ${[...scripts.values()].join(", ")} from ${needs.url}`,
    );
    try {
      await serveTarget({
        plans,
        owns: (run) => run.script !== undefined && scripts.has(run.script),
      }, {
        store,
        signal: stop.signal,
        poll,
        launcher,
        onEvent: (e) => {
          if (e.type === "fire") {
            say(
              `${e.schedule} fired for ${new Date(e.fireAt).toISOString()}: ${e.action}${
                e.runId ? ` (run ${e.runId})` : ""
              }`,
            );
          } else if (e.type === "wake") say(`woke run ${e.runId}`);
          else if (e.type === "recover") say(`resuming run ${e.runId}: ${e.reason}`);
          else say(`run ${e.runId} ${e.status}${e.error ? `: ${e.error}` : ""}`);
        },
      });
    } finally {
      Deno.removeSignalListener("SIGINT", onSignal);
      Deno.removeSignalListener("SIGTERM", onSignal);
      await store.close();
    }
    say("stopped");
    return 0;
  },
};

/** Runs `weft run` or `weft resume` in this process (each starts its own restricted child). */
async function runCli(command: "run" | "resume", args: string[]): Promise<RunStatus> {
  const cmd = command === "run"
    ? (await import("./run.ts")).runCommand
    : (await import("./resume.ts")).resumeCommand;
  let code: number;
  try {
    code = await cmd.run(args);
  } catch (e) {
    throw new Error(`weft ${command} ${args[0]}: ${(e as Error).message}`);
  }
  if (code === 0) return "succeeded";
  if (code === 75) return "sleeping";
  if (code === 130) return "cancelled";
  if (code === 1) return "failed";
  throw new Error(`weft ${command} ${args[0]} exited with ${code}`);
}
