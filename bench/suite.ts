// The benchmark suite: runs every workload of `bench/workloads.ts` with its
// floor in one process, prints a Markdown table and writes
// `bench/results.md` and `bench/results.json`.
//
//   deno task bench                  full sizes; writes the results files
//   deno task bench:smoke            tiny sizes; exits 1 when a workload fails
//                                    or is over 10× its target (CI)
//   deno task bench --only chain,dag run some workloads
//   deno task bench --repeats 9      samples per figure (median reported)
//   deno task bench --out DIR        where to write results.md / results.json
//   deno task bench --no-write       print only
//
// Heap figures need `--v8-flags=--expose-gc` (the tasks pass it).

import { parseArgs } from "node:util";
import {
  type MachineInfo,
  machineInfo,
  type Row,
  SMOKE_FACTOR,
  type WorkloadContext,
} from "./_harness.ts";
import { WORKLOADS } from "./workloads.ts";

/** What `results.json` holds. */
export interface SuiteResult {
  /** `full` or `smoke`. */
  mode: "full" | "smoke";
  /** Where and on what it ran. */
  machine: MachineInfo;
  /** Every figure. */
  rows: Row[];
  /** Workloads that threw, with the message. */
  errors: { workload: string; message: string }[];
  /** Seconds the suite took. */
  seconds: number;
}

function fmt(x: number | undefined, digits?: number): string {
  if (x === undefined || !Number.isFinite(x)) return "";
  const a = Math.abs(x);
  const d = digits ?? (a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
  return x.toFixed(d);
}

/** The rows as a Markdown table. */
export function markdownTable(rows: readonly Row[], smoke: boolean): string {
  const head = [
    "workload",
    "variant",
    "N",
    "metric",
    "value",
    "floor",
    "ratio",
    "slope",
    smoke ? `bound (target ×/÷ ${SMOKE_FACTOR})` : "target",
    "ok",
    "floor is",
    "notes",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`];
  for (const r of rows) {
    const target = r.target === undefined
      ? ""
      : r.higher
      ? `≥ ${fmt(r.target / (smoke ? SMOKE_FACTOR : 1))}`
      : fmt(r.target * (smoke ? SMOKE_FACTOR : 1));
    lines.push(
      `| ${
        [
          r.workload,
          r.variant,
          r.n.toLocaleString("en-US"),
          r.metric,
          fmt(r.value),
          fmt(r.floor),
          r.ratio === undefined ? "" : `${fmt(r.ratio, 1)}×`,
          fmt(r.slope, 3),
          target,
          r.ok === undefined ? "" : r.ok ? "yes" : "**no**",
          r.floorName ?? "",
          r.notes ?? "",
        ].join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

function markdownReport(result: SuiteResult): string {
  const m = result.machine;
  return `# weft benchmarks (${result.mode})

- date: ${m.date}${m.commit === undefined ? "" : `, commit ${m.commit}`}
- CPU: ${m.cpu}, ${m.cores} cores${m.memoryGiB === undefined ? "" : `, ${m.memoryGiB} GiB`}
- ${m.deno}, ${m.os}; load average at start ${m.loadAverage?.toFixed(2) ?? "?"}
- suite time: ${result.seconds.toFixed(1)} s

Each value is the median of several samples, taken alternately with its floor
in the same process. \`ratio\` is value / floor. \`slope\` is how much the
per-step cost grows with the step index, in µs per step per 10,000 steps
(0 is flat). Targets: ≤ 5 µs per sequential step (N ≥ 1,000), ≤ 2 µs per
fanned-out task (N ≥ 1,000), each phase of a 100,000-node static DAG under
1 s (scaled for smaller N), under 1 KiB of live heap per node.

${markdownTable(result.rows, result.mode === "smoke")}
${
    result.errors.length === 0
      ? ""
      : `\nErrors:\n\n${result.errors.map((e) => `- ${e.workload}: ${e.message}`).join("\n")}\n`
  }`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      repeats: { type: "string" },
      out: { type: "string" },
      "no-write": { type: "boolean", default: false },
    },
    strict: true,
  });
  const smoke = values.smoke!;
  const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
  if (only !== undefined) {
    const unknown = only.filter((n) => !WORKLOADS.some((w) => w.name === n));
    if (unknown.length > 0) {
      console.error(
        `Unknown workload ${unknown.join(", ")}; the workloads are ${
          WORKLOADS.map((w) => w.name).join(", ")
        }`,
      );
      return 2;
    }
  }
  const repeats = values.repeats === undefined ? (smoke ? 1 : 5) : Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) {
    console.error(`--repeats must be a positive integer: current value is ${values.repeats}`);
    return 2;
  }
  const ctx: WorkloadContext = {
    smoke,
    repeats,
    log: (message) => console.error(`bench: ${message}`),
  };
  const started = performance.now();
  const machine = await machineInfo();
  const rows: Row[] = [];
  const errors: SuiteResult["errors"] = [];
  for (const w of WORKLOADS) {
    if (only !== undefined && !only.includes(w.name)) continue;
    ctx.log(`${w.name}: ${w.description}`);
    try {
      let got = await w.run(ctx);
      // A smoke run checks that every workload runs and stays within its wide
      // bound; a machine busy with something else can push one figure past
      // it, so a workload that misses is measured again (twice at most) and
      // only a miss every time fails the run.
      for (let again = 0; smoke && again < 2 && got.some((r) => r.ok === false); again++) {
        const missed = got.filter((r) => r.ok === false).map((r) => `${r.variant} ${fmt(r.value)}`);
        ctx.log(`${w.name}: past the smoke bound (${missed.join("; ")}), measuring again`);
        got = await w.run(ctx);
      }
      rows.push(...got);
    } catch (e) {
      const message = e instanceof Error ? e.stack ?? e.message : String(e);
      errors.push({ workload: w.name, message });
      console.error(`bench: ${w.name} failed: ${message}`);
    }
  }
  const result: SuiteResult = {
    mode: smoke ? "smoke" : "full",
    machine,
    rows,
    errors,
    seconds: (performance.now() - started) / 1000,
  };
  console.log(markdownTable(rows, smoke));
  // A smoke run writes files only when asked to, so that CI leaves the tree clean.
  const out = values.out ??
    (smoke || values["no-write"] ? undefined : new URL(".", import.meta.url).pathname);
  if (out !== undefined && !values["no-write"]) {
    const dir = out.endsWith("/") ? out : `${out}/`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}results.md`, markdownReport(result));
    await Deno.writeTextFile(`${dir}results.json`, JSON.stringify(result, null, 2) + "\n");
    // The committed files must pass `deno fmt --check` (CI): let deno fmt lay out the tables.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", `${dir}results.md`, `${dir}results.json`],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => undefined);
    console.error(`bench: wrote ${dir}results.md and ${dir}results.json`);
  }
  const missed = rows.filter((r) => r.ok === false);
  for (const r of missed) {
    const bound = r.higher
      ? `< ${fmt((r.target ?? 0) / (smoke ? SMOKE_FACTOR : 1))}`
      : `> ${fmt((r.target ?? 0) * (smoke ? SMOKE_FACTOR : 1))}`;
    console.error(
      `bench: ${
        smoke ? "past the smoke bound" : "target missed"
      }: ${r.workload} ${r.variant} n=${r.n} ${r.metric} ${fmt(r.value)} ${bound}`,
    );
  }
  if (errors.length > 0) return 1;
  return smoke && missed.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
