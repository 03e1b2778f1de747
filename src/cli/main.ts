/**
 * The `weft` command line's entry: parses the command, runs it, and turns
 * errors into exit codes (0 ok, 1 a run failed, 2 bad usage or bad input).
 *
 * @module
 */

import { WEFT_VERSION } from "../core/version.ts";
import { WeftError } from "../core/errors.ts";
import { escapeText } from "../core/escape.ts";
import { UsageError } from "./args.ts";
import { COMMANDS } from "./commands.ts";

/** The top-level help text. */
export async function usage(): Promise<string> {
  const lines = [
    `weft ${WEFT_VERSION} — a Deno-first workflow engine`,
    "",
    "Usage: weft <command> [options]",
    "",
    "Commands:",
  ];
  for (const name of Object.keys(COMMANDS)) {
    const cmd = await COMMANDS[name]!();
    lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push(
    "",
    "Options:",
    "  -h, --help     show help (also `weft <command> --help` or `weft help <command>`)",
    "  -V, --version  print the version",
    "  --verbose      print stack traces with errors",
    "",
    "Exit codes: 0 success, 1 the run failed, 2 bad usage or bad input.",
  );
  return lines.join("\n");
}

/**
 * Runs the CLI.
 *
 * @param argv The arguments after `weft`.
 * @returns The exit code.
 */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes("--verbose");
  const args = argv.filter((a) => a !== "--verbose");
  // `weft help run` is `weft run --help`.
  if (args[0] === "help" && args[1] !== undefined) args.splice(0, 2, args[1], "--help");
  const name = args[0];
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    const text = await usage();
    if (name === undefined) {
      console.error(text);
      return 2;
    }
    console.log(text);
    return 0;
  }
  if (name === "-V" || name === "--version" || name === "version") {
    console.log(`weft ${WEFT_VERSION}`);
    return 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    console.error(
      `weft: unknown command '${name}'; the commands are ${
        Object.keys(COMMANDS).join(", ")
      } (weft --help)`,
    );
    return 2;
  }
  const command = await load();
  const rest = args.slice(1);
  if (rest.includes("-h") || rest.includes("--help")) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    return reportError(e, verbose);
  }
}

/**
 * Prints an error as one line (or with its stack under `--verbose`) and picks the exit code.
 *
 * @param e What was thrown.
 * @param verbose Print the stack.
 * @returns 2 for usage and validation errors, 1 otherwise.
 */
export function reportError(e: unknown, verbose: boolean): number {
  // What reads the output has closed it (`weft runs | head`): it has what it wanted.
  if (e instanceof Deno.errors.BrokenPipe) return 0;
  const message = e instanceof Error ? e.message : String(e);
  // Messages quote names, paths and errors from scripts: no terminal controls pass.
  console.error(`weft: ${escapeText(message.split("\n")[0]!)}`);
  if (verbose && e instanceof Error && e.stack) console.error(escapeText(e.stack));
  if (e instanceof UsageError) return 2;
  if (e instanceof WeftError) {
    return e.name === "ValidationError" || e.name === "RunOwnedError" ? 2 : 1;
  }
  return 1;
}
