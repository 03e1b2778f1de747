/**
 * The command table: each command is loaded only when it runs (or when the
 * help lists it), so that `weft --help` and each command start fast (by
 * `importLater`: Deno loads the graph of a literal `import()` at start-up).
 *
 * @module
 */

import { type Command, importLater } from "./command.ts";

/** The commands, by name, in the order the help lists them. */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  compile: async () =>
    (await importLater<typeof import("./compile.ts")>(new URL("./compile.ts", import.meta.url)))
      .compileCommand,
  inspect: async () =>
    (await importLater<typeof import("./inspect.ts")>(new URL("./inspect.ts", import.meta.url)))
      .inspectCommand,
  run: async () =>
    (await importLater<typeof import("./run.ts")>(new URL("./run.ts", import.meta.url))).runCommand,
  schema: async () =>
    (await importLater<typeof import("./schema.ts")>(new URL("./schema.ts", import.meta.url)))
      .schemaCommand,
  resume: async () =>
    (await importLater<typeof import("./resume.ts")>(new URL("./resume.ts", import.meta.url)))
      .resumeCommand,
  runs: async () =>
    (await importLater<typeof import("./runs.ts")>(new URL("./runs.ts", import.meta.url)))
      .runsCommand,
  show: async () =>
    (await importLater<typeof import("./show.ts")>(new URL("./show.ts", import.meta.url)))
      .showCommand,
  lineage: async () =>
    (await importLater<typeof import("./lineage.ts")>(new URL("./lineage.ts", import.meta.url)))
      .lineageCommand,
  export: async () =>
    (await importLater<typeof import("./export.ts")>(new URL("./export.ts", import.meta.url)))
      .exportCommand,
  cache: async () =>
    (await importLater<typeof import("./cache.ts")>(new URL("./cache.ts", import.meta.url)))
      .cacheCommand,
  signal: async () =>
    (await importLater<typeof import("./signal.ts")>(new URL("./signal.ts", import.meta.url)))
      .signalCommand,
  query: async () =>
    (await importLater<typeof import("./query.ts")>(new URL("./query.ts", import.meta.url)))
      .queryCommand,
  serve: async () =>
    (await importLater<typeof import("./serve.ts")>(new URL("./serve.ts", import.meta.url)))
      .serveCommand,
  schedules: async () =>
    (await importLater<typeof import("./schedules.ts")>(new URL("./schedules.ts", import.meta.url)))
      .schedulesCommand,
  replay: async () =>
    (await importLater<typeof import("./replay.ts")>(new URL("./replay.ts", import.meta.url)))
      .replayCommand,
  rerun: async () =>
    (await importLater<typeof import("./rerun.ts")>(new URL("./rerun.ts", import.meta.url)))
      .rerunCommand,
  cancel: async () =>
    (await importLater<typeof import("./cancel.ts")>(new URL("./cancel.ts", import.meta.url)))
      .cancelCommand,
  ui: async () =>
    (await importLater<typeof import("./ui.ts")>(new URL("./ui.ts", import.meta.url))).uiCommand,
  worker: async () =>
    (await importLater<typeof import("./worker.ts")>(new URL("./worker.ts", import.meta.url)))
      .workerCommand,
  workers: async () =>
    (await importLater<typeof import("./workers.ts")>(new URL("./workers.ts", import.meta.url)))
      .workersCommand,
};
