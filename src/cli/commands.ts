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
