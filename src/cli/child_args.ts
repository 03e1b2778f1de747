/**
 * The command line of `weft run`'s child: `deno run` of a small entry module
 * (a data: URL, so that nothing is written to disk) with exactly the planned
 * flags. Kept apart from `spawn_run.ts` so that `prestart.ts` can check a
 * recorded command line against what weft makes, before any of the CLI
 * loads.
 *
 * @module
 */

/** How the child runs the script (see `run_child.ts`). */
export type ChildEntryMode =
  /** Per-task grants: a driver Worker holding nothing, a Worker per permission set. */
  | "tasks"
  /** Per-task grants where no task declares one: the driver's work in the child's thread. */
  | "inline"
  /** `--no-isolate`: the script in the child's thread, with the union of the grants. */
  | "shared";

const RUN_CHILD = new URL("./run_child.ts", import.meta.url).href;

/**
 * The entry module of the child.
 *
 * @param mode How the child runs the script.
 * @param script The script's URL (imported by a literal specifier in the shared mode).
 * @returns A data: URL.
 */
export function childEntry(mode: ChildEntryMode, script: string): string {
  const from = JSON.stringify(RUN_CHILD);
  const code = mode === "tasks"
    ? `import { runTasksChild } from ${from};\nawait runTasksChild();\n`
    : mode === "inline"
    ? `import { runInlineChild } from ${from};\nawait runInlineChild();\n`
    : `import { runSharedChild } from ${from};\n` +
      `await runSharedChild(() => import(${JSON.stringify(script)}));\n`;
  return `data:application/typescript,${encodeURIComponent(code)}`;
}

/**
 * The child's arguments after the Deno executable.
 *
 * @param flags Its permission and import flags.
 * @param config The script's deno.json, if any.
 * @param entry Its entry module.
 * @returns The arguments.
 */
export function childArgs(
  flags: readonly string[],
  config: string | undefined,
  entry: string,
): string[] {
  // (Not --unstable-lazy-dynamic-imports: a literal import() then needs a
  // read grant, which neither weft's own lazy modules nor a script's have
  // under --no-isolate.)
  return [
    "run",
    "--quiet",
    "--no-prompt",
    ...flags,
    ...(config === undefined ? [] : [`--config=${config}`]),
    entry,
  ];
}

/** The flags weft gives a child: grants, import and fetch settings, its configuration. */
const CHILD_FLAG =
  /^--(?:allow-(?:read|write|net|env|run|ffi|sys|import)(?:=.*)?|deny-import|cached-only|no-npm|unstable-worker-options|config=.+)$/s;

/**
 * Whether a command line is one weft makes for a child of `script`: its own
 * entry, and nothing but the flags it gives (so that a recorded command
 * line can start nothing else).
 *
 * @param args The arguments.
 * @param script The script's URL.
 * @returns True when weft could have made them.
 */
export function isChildArgs(args: readonly string[], script: string): boolean {
  const entry = args.at(-1);
  if (entry === undefined) return false;
  const mode = (["tasks", "inline", "shared"] as const).find((m) =>
    childEntry(m, script) === entry
  );
  if (mode === undefined) return false;
  const head = childArgs([], undefined, entry).slice(0, -1);
  return head.every((a, i) => args[i] === a) &&
    args.slice(head.length, -1).every((flag) => CHILD_FLAG.test(flag));
}
