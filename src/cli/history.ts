/**
 * What the commands that read the store share: their arguments (`--store S`
 * and at most one operand), opening it (history is read from an existing
 * store only), finding a run, and plain-text output.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { escapeJson, escapeLine, escapeText } from "../core/escape.ts";
import type { RunDetails, Store } from "../store/mod.ts";
import { openStore } from "../store/open.ts";
import { type OptionSpec, parseCommandArgs, type ParsedArgs, UsageError } from "./args.ts";
import { defaultStoreUrl } from "./store_url.ts";

/** The `--store` line of each command's help. */
export const STORE_HELP =
  `  --store S   memory | sqlite:PATH | postgres://USER:PASSWORD@HOST:PORT/DATABASE\n              (default sqlite:.weft/weft.db, or $WEFT_STORE)`;

/** What {@linkcode parseStoreArgs} found. */
export interface StoreArgs {
  /** The options given, by name. */
  readonly values: ParsedArgs["values"];
  /** The `--store` value, if given. */
  readonly store: string | undefined;
  /** The one operand (empty for a command that takes none). */
  readonly operand: string;
}

/**
 * Parses the arguments of a command that opens the store: its own options
 * and `--store S`, and either no operand or exactly one.
 *
 * @param command The command's name, for messages.
 * @param args Its arguments.
 * @param options Its options (`store` is added).
 * @param operand What its one operand is, as a usage error says it
 * (`RUN_ID (see weft runs)`); undefined when it takes none.
 * @returns The options, the store and the operand.
 */
export function parseStoreArgs(
  command: string,
  args: string[],
  options: Record<string, OptionSpec>,
  operand?: string,
): StoreArgs {
  const { values, positionals } = parseCommandArgs(command, args, {
    ...options,
    store: { type: "string" },
  });
  if (operand === undefined && positionals.length > 0) {
    throw new UsageError(`${command}: unexpected argument '${positionals[0]}'`);
  }
  if (operand !== undefined && positionals.length !== 1) {
    throw new UsageError(`${command}: give exactly one ${operand}`);
  }
  return { values, store: values.store as string | undefined, operand: positionals[0] ?? "" };
}

/**
 * Opens the store, runs `fn` with it, and closes it.
 *
 * @param url The `--store` value, if given.
 * @param fn What to do with the store.
 * @param options `write` for a command that changes the store (read-only otherwise).
 * @returns What `fn` returns.
 * @throws {ValidationError} When there is no store at that path yet.
 */
export async function withStore<T>(
  url: string | undefined,
  fn: (store: Store) => Promise<T>,
  options: { write?: boolean } = {},
): Promise<T> {
  const target = url ?? defaultStoreUrl();
  if (target.startsWith("sqlite:")) {
    const path = target.slice("sqlite:".length);
    try {
      await Deno.stat(path);
    } catch {
      throw new ValidationError(
        `There is no store at ${path} yet (nothing has run with it); run a workflow first, or pass --store`,
      );
    }
  }
  // History is only read: the file is not written, and a store on a
  // read-only file system can still be shown.
  const store = await openStore(target, { readOnly: options.write !== true });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * Writes text to stdout, whole.
 *
 * @param text The text.
 */
export function write(text: string): void {
  // Records hold names, values and errors from scripts: no terminal controls pass.
  const data = new TextEncoder().encode(escapeText(text));
  let written = 0;
  while (written < data.length) written += Deno.stdout.writeSync(data.subarray(written));
}

/**
 * Writes JSON text to stdout, whole, with the controls `JSON.stringify`
 * leaves raw escaped (the JSON means the same).
 *
 * @param json The JSON text.
 */
export function writeJson(json: string): void {
  const data = new TextEncoder().encode(escapeJson(json));
  let written = 0;
  while (written < data.length) written += Deno.stdout.writeSync(data.subarray(written));
}

/**
 * A local date and time, to the second.
 *
 * @param ms Milliseconds since the epoch.
 * @returns Such as `2026-12-02 14:03:09`, or `-`.
 */
export function when(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`;
}

/**
 * Lays rows out in columns.
 *
 * @param rows The header row, then the rows.
 * @returns The table, a line per row.
 */
export function table(rows: string[][]): string {
  // One line per row: a name with a line break in it is shown escaped.
  rows = rows.map((r) => r.map(escapeLine));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()
  ).join("\n") + "\n";
}

/**
 * A run by id.
 *
 * @param store The store.
 * @param runId The run id.
 * @returns Its record.
 * @throws {ValidationError} When the store has no such run.
 */
export async function getRun(store: Store, runId: string): Promise<RunDetails> {
  const run = await store.getRun(runId);
  if (run === undefined) {
    throw new ValidationError(
      `No run '${runId}' in ${store.url}; list runs with weft runs${
        store.url === "memory" ? "" : ` --store ${store.url}`
      }`,
    );
  }
  return run;
}
