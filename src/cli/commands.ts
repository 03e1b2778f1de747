/**
 * The command table: each command is loaded only when it runs (or when the
 * help lists it), so that `weft --help` and each command start fast.
 *
 * @module
 */

import type { Command } from "./command.ts";

/** The commands, by name, in the order the help lists them. */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  compile: async () => (await import("./compile.ts")).compileCommand,
  inspect: async () => (await import("./inspect.ts")).inspectCommand,
  run: async () => (await import("./run.ts")).runCommand,
  schema: async () => (await import("./schema.ts")).schemaCommand,
  resume: async () => (await import("./resume.ts")).resumeCommand,
  runs: async () => (await import("./runs.ts")).runsCommand,
  show: async () => (await import("./show.ts")).showCommand,
  lineage: async () => (await import("./lineage.ts")).lineageCommand,
  export: async () => (await import("./export.ts")).exportCommand,
  cache: async () => (await import("./cache.ts")).cacheCommand,
  signal: async () => (await import("./signal.ts")).signalCommand,
  serve: async () => (await import("./serve.ts")).serveCommand,
  schedules: async () => (await import("./schedules.ts")).schedulesCommand,
  replay: async () => (await import("./replay.ts")).replayCommand,
  rerun: async () => (await import("./rerun.ts")).rerunCommand,
  cancel: async () => (await import("./cancel.ts")).cancelCommand,
  ui: async () => (await import("./ui.ts")).uiCommand,
  worker: async () => (await import("./worker.ts")).workerCommand,
  workers: async () => (await import("./workers.ts")).workersCommand,
};
