/**
 * Argument parsing for the CLI, with errors that say what is wrong and where
 * to look.
 *
 * The parser follows `node:util` `parseArgs` in strict mode with positionals
 * allowed — the same tokens, values and messages — but is written out here:
 * importing any `node:` module starts Deno's Node compatibility layer, which
 * costs the CLI more at start-up than everything else it loads before a run.
 * `tests/cli_args_test.ts` holds it to `node:util` on many argument lists.
 *
 * @module
 */

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
    return parseStrict(args, options);
  } catch (e) {
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UsageError(`${command}: ${message} (see weft ${command} --help)`);
  }
}

/** One option occurrence, as `parseArgs` tokenizes it. */
interface OptionToken {
  name: string;
  rawName: string;
  value: string | undefined;
  inlineValue: boolean | undefined;
}

/**
 * `parseArgs({ args, options, strict: true, allowPositionals: true })`.
 *
 * @param args The arguments.
 * @param options The options.
 * @returns Values (in an object without prototype) and positionals.
 * @throws {Error} With `parseArgs`'s message on an unknown option, a missing or unexpected value, or a value that looks like an option.
 */
export function parseStrict(
  args: readonly string[],
  options: Record<string, OptionSpec>,
): ParsedArgs {
  const spec = (name: string): OptionSpec | undefined =>
    Object.hasOwn(options, name) ? options[name] : undefined;
  const longFor = (short: string): string =>
    Object.entries(options).find(([, o]) => Object.hasOwn(o, "short") && o.short === short)?.[0] ??
      short;
  const isString = (name: string) => spec(name)?.type === "string";

  const values: ParsedArgs["values"] = Object.create(null);
  const positionals: string[] = [];
  const option = (token: OptionToken): void => {
    const o = spec(token.name);
    if (o === undefined) {
      throw new Error(
        `Unknown option '${token.rawName}'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- ${
          JSON.stringify(token.rawName)
        }`,
      );
    }
    const shortAndLong = `${o.short ? `-${o.short}, ` : ""}--${token.name}`;
    if (o.type === "string" && typeof token.value !== "string") {
      throw new Error(`Option '${shortAndLong} <value>' argument missing`);
    }
    if (o.type === "boolean" && token.value !== undefined) {
      throw new Error(`Option '${shortAndLong}' does not take an argument`);
    }
    if (
      !token.inlineValue && token.value !== undefined && token.value.length > 1 &&
      token.value[0] === "-"
    ) {
      const example = token.rawName.startsWith("--")
        ? `'${token.rawName}=-XYZ'`
        : `'--${token.name}=-XYZ' or '${token.rawName}-XYZ'`;
      throw new Error(
        `Option '${token.rawName}' argument is ambiguous.\nDid you forget to specify the option argument for '${token.rawName}'?\nTo specify an option argument starting with a dash use ${example}.`,
      );
    }
    if (token.name === "__proto__") return;
    const value = token.value ?? true;
    if (o.multiple) {
      const list = values[token.name];
      if (Array.isArray(list)) (list as (string | boolean)[]).push(value);
      else values[token.name] = [value] as string[];
    } else values[token.name] = value;
  };

  const rest = [...args];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    const next = rest[0];
    if (arg === "--") {
      positionals.push(...rest);
      break;
    }
    if (arg.length === 2 && arg[0] === "-" && arg[1] !== "-") {
      // -f, or -f VALUE for a string option
      const name = longFor(arg[1]!);
      const value = isString(name) && next !== undefined ? rest.shift() : undefined;
      option({ name, rawName: arg, value, inlineValue: value === undefined ? undefined : false });
      continue;
    }
    if (arg.length > 2 && arg[0] === "-" && arg[1] !== "-") {
      if (!isString(longFor(arg[1]!))) {
        // -abc is -a -b -c; a string option inside takes the rest: -abfFILE is -a -b -fFILE
        const expanded: string[] = [];
        for (let i = 1; i < arg.length; i++) {
          const short = arg[i]!;
          if (!isString(longFor(short)) || i === arg.length - 1) expanded.push(`-${short}`);
          else {
            expanded.push(`-${arg.slice(i)}`);
            break;
          }
        }
        rest.unshift(...expanded);
        continue;
      }
      // -fFILE
      option({
        name: longFor(arg[1]!),
        rawName: `-${arg[1]}`,
        value: arg.slice(2),
        inlineValue: true,
      });
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--")) {
      if (!arg.includes("=", 3)) {
        // --foo, or --foo VALUE for a string option
        const name = arg.slice(2);
        const value = isString(name) && next !== undefined ? rest.shift() : undefined;
        option({ name, rawName: arg, value, inlineValue: value === undefined ? undefined : false });
      } else {
        // --foo=VALUE (split at the first '=', as parseArgs does)
        const eq = arg.indexOf("=");
        const name = arg.slice(2, eq);
        option({ name, rawName: `--${name}`, value: arg.slice(eq + 1), inlineValue: true });
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, positionals };
}
