/**
 * The list of CLI commands, loaded lazily so that `weft --help` stays fast.
 *
 * @module
 */

import { registerCommand } from "./main.ts";

registerCommand("compile", async () => (await import("./compile.ts")).compileCommand);
registerCommand("inspect", async () => (await import("./inspect.ts")).inspectCommand);
registerCommand("run", async () => (await import("./run.ts")).runCommand);
registerCommand("schema", async () => (await import("./schema.ts")).schemaCommand);
registerCommand("resume", async () => (await import("./history.ts")).resumeCommand);
registerCommand("runs", async () => (await import("./history.ts")).runsCommand);
registerCommand("show", async () => (await import("./history.ts")).showCommand);
registerCommand("lineage", async () => (await import("./history.ts")).lineageCommand);
registerCommand("export", async () => (await import("./history.ts")).exportCommand);
registerCommand("cache", async () => (await import("./history.ts")).cacheCommand);
