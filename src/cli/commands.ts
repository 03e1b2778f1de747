/**
 * The command table: each command is loaded only when it runs (or when the
 * help lists it), so that `weft --help` and each command start fast (by
 * `importLater`: Deno loads the graph of a literal `import()` at start-up).
 *
 * @module
 */

import { type Command, importLater } from "./command.ts";

/**
 * The commands' names, in the order the help lists them: command NAME is
 * the `NAMECommand` export of `./NAME.ts`.
 */
const NAMES = [
  "compile",
  "inspect",
  "run",
  "schema",
  "resume",
  "runs",
  "show",
  "lineage",
  "export",
  "cache",
  "signal",
  "query",
  "serve",
  "schedules",
  "replay",
  "rerun",
  "cancel",
  "ui",
  "worker",
  "workers",
];

/**
 * A command's loader.
 *
 * @param name The command.
 * @returns A function that loads its module and returns the command.
 */
function later(name: string): () => Promise<Command> {
  return async () => {
    const module = await importLater<Record<string, Command | undefined>>(
      new URL(`./${name}.ts`, import.meta.url),
    );
    const command = module[`${name}Command`];
    if (command === undefined) throw new TypeError(`./${name}.ts exports no ${name}Command`);
    return command;
  };
}

/** The commands, by name, in the order the help lists them. */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = Object.fromEntries(
  NAMES.map((name) => [name, later(name)]),
);
