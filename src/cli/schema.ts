/**
 * `weft schema`: prints the JSON Schema (draft 2020-12) of the
 * `weft.dag/v1` IR that `weft compile` writes.
 *
 * @module
 */

import { DAG_SCHEMA } from "../ir/schema.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import type { Command } from "./command.ts";

/** The `schema` command. */
export const schemaCommand: Command = {
  summary: "print the JSON Schema of the weft.dag/v1 IR",
  help: `Usage: weft schema [--out FILE]

Prints the JSON Schema (draft 2020-12) that every document weft compile
writes conforms to, so that other tools can validate and read the IR.

Options:
  --out FILE  write to FILE instead of stdout

Example:
  weft schema > weft.dag.v1.schema.json`,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs("schema", args, {
      out: { type: "string" },
    });
    if (positionals.length > 0) {
      throw new UsageError(
        `schema: takes no arguments, but was given '${positionals[0]}' (see weft schema --help)`,
      );
    }
    const text = `${JSON.stringify(DAG_SCHEMA, null, 2)}\n`;
    const out = values.out as string | undefined;
    if (out !== undefined) await Deno.writeTextFile(out, text);
    else await Deno.stdout.write(new TextEncoder().encode(text));
    return 0;
  },
};
