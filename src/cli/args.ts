/**
 * Argument parsing for the CLI, on `node:util` `parseArgs`, with errors that
 * say what is wrong and where to look.
 *
 * @module
 */

import { parseArgs as nodeParseArgs } from "node:util";

/** Bad usage: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An option a command takes. */
export interface OptionSpec {
  /** A string or a boolean switch. */
  type: "string" | "boolean";
  /** A one-letter alias. */
  short?: string;
  /** Whether it may be given several times. */
  multiple?: boolean;
}

/** What {@linkcode parseCommandArgs} returns. */
export interface ParsedArgs {
  /** Option values by name. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** The positional arguments. */
  positionals: string[];
}

/**
 * Parses a command's arguments strictly.
 *
 * @param command The command name, for messages.
 * @param args The arguments after the command name.
 * @param options The options it takes.
 * @returns Values and positionals.
 * @throws {UsageError} On an unknown option or a missing value.
 */
export function parseCommandArgs(
  command: string,
  args: string[],
  options: Record<string, OptionSpec>,
): ParsedArgs {
  try {
    const { values, positionals } = nodeParseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (e) {
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UsageError(`${command}: ${message} (see weft ${command} --help)`);
  }
}
