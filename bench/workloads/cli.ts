// Workload 7 (and the progress check of `weft run`): the cold start of
// `weft run` on a one-task script against `deno run` of the same script,
// and the cost of the live progress view on 100,000 tiny tasks against
// `--quiet` (the view is drawn from snapshots, never per event).
//
// The cold start is measured as a user's project has it: a directory with a
// deno.json that maps `@weft/weft` (and the deno.lock Deno writes beside
// it), weft run as the installed command runs it (`--no-config`), both
// commands warmed once (Deno's module cache, weft's compile cache and the
// record of the child the command starts), then alternated.

import { median, type Row, timeMs, type Workload } from "../_harness.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");

async function spawn(
  args: string[],
  env: Record<string, string> = {},
  cwd: string = ROOT,
): Promise<void> {
  const full: Record<string, string> = { NO_COLOR: "1", ...env };
  if (env.NO_COLOR === "") delete full.NO_COLOR;
  const out = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    cwd,
    env: full,
    clearEnv: env.NO_COLOR === "",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(0, 300)}`,
    );
  }
}

async function sample(
  times: number,
  args: string[],
  env?: Record<string, string>,
): Promise<number[]> {
  await spawn(args, env); // warm: Deno's module cache and weft's compile cache
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push(await timeMs(() => spawn(args, env)));
  return out;
}

/** `weft run` start-up and progress-view cost, in processes. */
export const cliWorkload: Workload = {
  name: "cli",
  description:
    "weft run cold start vs deno run of the same script; live progress vs --quiet on many tiny tasks",
  async run(ctx) {
    const deno = Deno.execPath();
    const cache = await Deno.makeTempDir({ prefix: "weft_bench_cache_" });
    const env = { WEFT_CACHE_DIR: cache };
    const rows: Row[] = [];
    try {
      const times = ctx.smoke ? 2 : 9;
      const project = await Deno.makeTempDir({ prefix: "weft_bench_project_" });
      await Deno.writeTextFile(
        `${project}/deno.json`,
        JSON.stringify({ imports: { "@weft/weft": `${ROOT}/mod.ts` } }),
      );
      await Deno.writeTextFile(
        `${project}/one_task.ts`,
        (await Deno.readTextFile(`${ROOT}/bench/fixtures/one_task.ts`))
          .replace('"../../mod.ts"', '"@weft/weft"'),
      );
      const plainArgs = [deno, "run", "one_task.ts"];
      const weftArgs = [
        deno,
        "run",
        "-A",
        "--no-config",
        `${ROOT}/cli.ts`,
        "run",
        "one_task.ts",
        "--store",
        "memory",
        "--quiet",
      ];
      // Warm both, then alternate the samples, so that a change in the
      // machine's load shifts both alike.
      const plain: number[] = [];
      const weft: number[] = [];
      try {
        await spawn(plainArgs, {}, project);
        await spawn(weftArgs, env, project);
        for (let i = 0; i < times; i++) {
          plain.push(await timeMs(() => spawn(plainArgs, {}, project)));
          weft.push(await timeMs(() => spawn(weftArgs, env, project)));
        }
      } finally {
        await Deno.remove(project, { recursive: true }).catch(() => {});
      }
      rows.push({
        workload: "cli",
        variant: "weft run, one task",
        n: 1,
        metric: "ms",
        value: median(weft),
        samples: weft,
        floor: median(plain),
        floorName: "deno run of the same script",
        ratio: median(weft) / median(plain),
        target: median(plain) * 1.5,
        ok: median(weft) <= median(plain) * 1.5 * (ctx.smoke ? 10 : 1),
        notes:
          "two processes: the parent (compile cache confirmed, plan, run owned) and the child with exactly the grants, started first thing as the same command started it last time",
      });
      const n = ctx.smoke ? 2_000 : 100_000;
      const base = [
        deno,
        "run",
        "-A",
        "cli.ts",
        "run",
        "bench/fixtures/many_tasks.ts",
        "--input",
        `n=${n}`,
        "--store",
        "memory",
      ];
      const quiet = await sample(ctx.smoke ? 1 : 3, [...base, "--quiet"], env);
      // The live view needs a terminal: `script` gives the run a pseudo-terminal.
      const liveTty = await sample(
        ctx.smoke ? 1 : 3,
        ["script", "-qfec", base.map((a) => `'${a}'`).join(" "), "/dev/null"],
        {
          ...env,
          NO_COLOR: "",
          TERM: "xterm-256color",
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: Deno.env.get("HOME") ?? "/root",
        },
      );
      rows.push({
        workload: "cli",
        variant: "weft run, live progress on a terminal",
        n,
        metric: "ms",
        value: median(liveTty),
        samples: liveTty,
        floor: median(quiet),
        floorName: "the same with --quiet",
        ratio: median(liveTty) / median(quiet),
        notes: "the view redraws 10 times a second from snapshots; events are only counted",
      });
    } finally {
      await Deno.remove(cache, { recursive: true }).catch(() => {});
    }
    return rows;
  },
};
