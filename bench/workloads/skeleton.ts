// Issue 18: what extracting flow skeletons adds to `weft compile`, on a
// script with a 500-line flow (branches, loops and calls throughout), against
// the same compile with skeletons turned off (the floor). Each sample is a
// fresh process doing what `weft compile` does (skeleton_compile.ts): `deno
// info`, the no-permission child, rendering and printing the JSON document,
// no compile cache. (Samples used to be loads in this long-lived process:
// reading the child's report, rendering and printing were left out, and the
// parent's side ran warm, which no `weft compile` does.)

import { median, type Row, timeMs, type Workload } from "../_harness.ts";

const ROOT = new URL("../../", import.meta.url).href;
const DRIVER = new URL("./skeleton_compile.ts", import.meta.url).href;

/** A script with five tasks and one flow of about `lines` lines. */
function bigFlow(lines: number): string {
  const out = [`import { flow, task, wait } from "${ROOT}mod.ts";`];
  for (let i = 0; i < 5; i++) {
    out.push(
      `export const t${i} = task(function t${i}(x: number, y: number): number { return x + y; });`,
    );
  }
  out.push(`export const big = flow(async function* big(x: number, y: number) {`);
  out.push(`  let out = t0(x, y);`);
  for (let i = 1; out.length < lines; i++) {
    out.push(
      `  if ((yield* wait(out)) > ${i}) {`,
      `    out = t1(t2(out, ${i}), 2) as number;`,
      `  } else {`,
      `    for (const k of [1, 2, 3]) {`,
      `      out = t3(out, k);`,
      `    }`,
      `  }`,
      `  while ((yield* wait(out)) < ${i}) out = t4(out, 1);`,
    );
  }
  out.push(`  return { sum: out };`, `});`);
  return `${out.join("\n")}\n`;
}

/** Compile time with and without skeletons. */
export const skeletonWorkload: Workload = {
  name: "skeleton",
  description: "weft compile of a 500-line flow, with its skeleton against without",
  async run(ctx) {
    const dir = await Deno.makeTempDir({ prefix: "weft_bench_skeleton_" });
    try {
      const script = `${dir}/big.ts`;
      await Deno.writeTextFile(script, bigFlow(500));
      const compile = (skeletons: "on" | "off") => async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", DRIVER, script, skeletons],
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).output();
        if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      };
      const times = ctx.smoke ? 3 : 11;
      const withSkeleton: number[] = [];
      const without: number[] = [];
      // Warm Deno's caches, then alternate so that both see the same machine.
      await compile("on")();
      await compile("off")();
      for (let i = 0; i < times; i++) {
        withSkeleton.push(await timeMs(compile("on")));
        without.push(await timeMs(compile("off")));
      }
      const value = median(withSkeleton);
      const floor = median(without);
      const added = value - floor;
      const rows: Row[] = [
        {
          workload: "skeleton",
          variant: "weft compile, 500-line flow",
          n: 500,
          metric: "ms",
          value,
          samples: withSkeleton,
          floor,
          floorName: "the same compile without skeletons",
          ratio: value / floor,
        },
        {
          workload: "skeleton",
          variant: "added by the skeleton",
          n: 500,
          metric: "ms",
          value: added,
          samples: withSkeleton.map((v, i) => v - without[i]!),
          target: 50,
          ok: added <= (ctx.smoke ? 500 : 50),
          notes:
            "in the child: loading node:module and meriyah, type stripping, parse, walk; then the larger report read, rendered and printed",
        },
      ];
      return rows;
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
};
