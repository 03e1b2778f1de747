/**
 * Starting `weft run`'s child before the rest of the CLI loads. The child's
 * command line (its exact grants) is known only once the script is described
 * and planned, which takes the parent most of its start-up; but the same
 * command run again in the same directory nearly always plans the same
 * child. So the parent, first thing, starts the child the previous run of
 * the same arguments started (recorded in weft's private cache directory),
 * and the child loads weft's engine while the parent confirms the compile
 * cache and plans. The child runs nothing of the script until the parent
 * sends it the run's spec, which the parent does only when the command line
 * it planned is exactly the one it started; otherwise it kills that child
 * (which has run only weft's own code) and starts the planned one.
 *
 * A record can start nothing but weft's own child entry with the kinds of
 * flags weft gives it (`isChildArgs`), and is read only from a directory
 * no one else can write to (`cacheDir`).
 *
 * @module
 */

import { cacheDir } from "./cache_dir.ts";
import { isChildArgs } from "./child_args.ts";

/** What a record holds: the arguments it is for, and the child they started. */
interface StartRecord {
  argv: string[];
  cwd: string;
  script: string;
  args: string[];
  childCwd: string;
}

interface Early {
  argv: string[];
  cwd: string;
  dir: string;
  child?: Deno.ChildProcess;
  args?: string[];
  childCwd?: string;
  ended: boolean;
}

let early: Early | undefined;

/**
 * Starts the child the last `weft run` with these arguments, in this
 * directory, started (when there is a record of it).
 *
 * @param argv The arguments after `weft`.
 */
export function prestart(argv: readonly string[]): void {
  if (argv[0] !== "run" || argv.includes("-h") || argv.includes("--help")) return;
  let cwd: string;
  try {
    cwd = Deno.cwd();
  } catch {
    return;
  }
  const dir = cacheDir();
  if (dir === undefined) return;
  const state: Early = { argv: [...argv], cwd, dir, ended: false };
  early = state;
  let record: StartRecord;
  try {
    record = JSON.parse(Deno.readTextFileSync(recordFile(dir, argv, cwd)));
  } catch {
    return;
  }
  if (
    !same(record.argv, argv) || record.cwd !== cwd || typeof record.script !== "string" ||
    typeof record.childCwd !== "string" || !Array.isArray(record.args) ||
    !record.args.every((a) => typeof a === "string") || !isChildArgs(record.args, record.script)
  ) {
    return;
  }
  try {
    state.child = new Deno.Command(Deno.execPath(), {
      args: record.args,
      cwd: record.childCwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch {
    return;
  }
  state.args = record.args;
  state.childCwd = record.childCwd;
  state.child.status.then(() => state.ended = true, () => state.ended = true);
}

/**
 * The child started early, when it is the one planned (the same arguments,
 * in the same directory) and still running; else it is stopped, and the
 * planned one is recorded for the next run of these arguments.
 *
 * @param script The script's URL.
 * @param args The planned child's arguments.
 * @param childCwd Its working directory.
 * @returns The child, or undefined: start the planned one.
 */
export async function takePrestarted(
  script: string,
  args: readonly string[],
  childCwd: string,
): Promise<Deno.ChildProcess | undefined> {
  const state = early;
  early = undefined;
  if (state === undefined) return undefined;
  if (
    state.child !== undefined && !state.ended && same(state.args!, args) &&
    state.childCwd === childCwd
  ) {
    return state.child;
  }
  if (state.child !== undefined) await stop(state.child);
  const record: StartRecord = {
    argv: state.argv,
    cwd: state.cwd,
    script,
    args: [...args],
    childCwd,
  };
  try {
    const file = recordFile(state.dir, state.argv, state.cwd);
    Deno.mkdirSync(`${state.dir}/starts`, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${crypto.randomUUID()}.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    Deno.renameSync(tmp, file);
  } catch {
    // A record that cannot be written only costs the next run its head start.
  }
  return undefined;
}

/** Stops a child started early that nothing took (the command ended before its run). */
export async function dropPrestarted(): Promise<void> {
  const state = early;
  early = undefined;
  if (state?.child !== undefined) await stop(state.child);
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // already ended
  }
  await child.status;
  await child.stdout.cancel().catch(() => {});
  await child.stdin.close().catch(() => {});
}

function same(a: readonly unknown[] | undefined, b: readonly unknown[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The record's file: a hash of the directory and the arguments (each record says which it is for). */
function recordFile(dir: string, argv: readonly string[], cwd: string): string {
  const text = JSON.stringify([cwd, ...argv]);
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  const hex = (h: number) => (h >>> 0).toString(16).padStart(8, "0");
  return `${dir}/starts/${hex(h1)}${hex(h2)}.json`;
}
