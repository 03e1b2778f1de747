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
      args: joinNegativeValues(args, options),
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (e) {
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    const ambiguous = /^Option '(-\w|--[\w-]+)' argument is ambiguous/.exec(message);
    if (ambiguous !== null) {
      throw new UsageError(
        `${command}: ${ambiguous[1]} needs a value; to give one that starts with a dash, write ${
          ambiguous[1]
        }=-VALUE (see weft ${command} --help)`,
      );
    }
    throw new UsageError(`${command}: ${message} (see weft ${command} --help)`);
  }
}

/**
 * `--limit -1` as `--limit=-1`: parseArgs takes a value that starts with a
 * dash for an option and calls the argument ambiguous, but a negative number
 * after an option that takes a value is that option's value (which the
 * command then checks and explains).
 */
function joinNegativeValues(args: string[], options: Record<string, OptionSpec>): string[] {
  const takesValue = new Set<string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (spec.short !== undefined) takesValue.add(`-${spec.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (takesValue.has(arg) && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
    if (arg === "--") {
      out.push(...args.slice(i + 1));
      break;
    }
  }
  return out;
}
