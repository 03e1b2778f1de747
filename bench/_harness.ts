// The benchmark harness: what a workload is, what it reports, and the
// measuring helpers every workload shares (medians, slopes, heap figures).
// `bench/suite.ts` runs the workloads listed in `bench/workloads.ts`.

/** One figure a workload reports: a cost, its floor, and the target it is held to. */
export interface Row {
  /** The workload, such as `chain`. */
  workload: string;
  /** The variant, such as `flow` or `static`. */
  variant: string;
  /** The size: steps, tasks or nodes. */
  n: number;
  /** What `value` measures, such as `µs/step`, `build ms` or `B/node`. */
  metric: string;
  /** The median of the samples. */
  value: number;
  /** Every sample, in the order taken. */
  samples: number[];
  /** The floor the value is compared with, measured in the same process and run. */
  floor?: number;
  /** What the floor is, such as `loop of awaits`. */
  floorName?: string;
  /** `value / floor`. */
  ratio?: number;
  /** For per-step costs: how the cost grows with the step index, in µs per step per 10,000 steps. */
  slope?: number;
  /** The target: `value` must not exceed it (or, with `higher`, fall below it). */
  target?: number;
  /** Whether more is better (a rate such as workflows/s): the target is then a minimum. */
  higher?: boolean;
  /** Whether `value` meets the target (full runs) or the smoke bound (smoke runs). */
  ok?: boolean;
  /** Anything else worth reading next to the figure. */
  notes?: string;
}

/** What a workload gets from the suite. */
export interface WorkloadContext {
  /** Tiny sizes, few repeats: check that it runs and is not an order of magnitude off. */
  readonly smoke: boolean;
  /** Samples to take per figure (the median is reported). */
  readonly repeats: number;
  /** Progress messages, on stderr. */
  log(message: string): void;
}

/**
 * A benchmark workload. Adding one is a small function in its own file under
 * `bench/workloads/`, registered in `bench/workloads.ts`.
 */
export interface Workload {
  /** A short name, used by `--only`. */
  readonly name: string;
  /** One line on what it measures. */
  readonly description: string;
  /** Measures and returns its rows. */
  run(ctx: WorkloadContext): Promise<Row[]>;
}

/** The median of some numbers. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The least-squares slope of `ys` against `xs`. */
export function slopeOf(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  let sx = 0, sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n, my = sy / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Milliseconds `fn` takes. */
export async function timeMs(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * Samples a workload and its floor alternately, so that both see the same
 * machine state (JIT, GC, other processes), after one warm-up of each.
 *
 * No garbage collection is forced between samples: a full GC ages compiled
 * code, and V8 flushes the bytecode of functions that did not run for a few
 * of them, so forcing two per sample made the next sample re-compile the
 * engine (a 1,000-step chain measured 6.5 µs/step instead of 1.8).
 *
 * @returns The samples of each, in ms.
 */
export async function alternate(
  repeats: number,
  work: () => unknown,
  floor: () => unknown,
): Promise<{ work: number[]; floor: number[] }> {
  await work();
  await floor();
  const out = { work: [] as number[], floor: [] as number[] };
  for (let i = 0; i < repeats; i++) {
    out.work.push(await timeMs(work));
    out.floor.push(await timeMs(floor));
  }
  return out;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Whether the process was started with `--v8-flags=--expose-gc` (needed for heap figures). */
export const canCollect: boolean = typeof gc === "function";

/** Runs a full garbage collection when the process allows it (for heap figures only: see `alternate`). */
export function collectGarbage(): void {
  if (gc !== undefined) {
    gc();
    gc();
  }
}

/** The live heap in bytes, after a full collection. */
export function liveHeap(): number {
  collectGarbage();
  return Deno.memoryUsage().heapUsed;
}

/** A row for a cost per unit: fills the ratio and whether it meets its target (or smoke bound). */
export function costRow(
  ctx: WorkloadContext,
  row: Omit<Row, "value" | "ratio" | "ok" | "floor"> & { floor?: number[] },
): Row {
  const value = median(row.samples);
  const { floor, ...rest } = row;
  const out: Row = { ...rest, value };
  if (floor !== undefined) {
    out.floor = median(floor);
    out.ratio = value / out.floor;
  }
  if (row.target !== undefined) out.ok = value <= row.target * (ctx.smoke ? SMOKE_FACTOR : 1);
  return out;
}

/** How far over its target a figure may be in smoke mode: tiny sizes, cold JIT, slow CI machines. */
export const SMOKE_FACTOR = 10;

/** The machine, runtime and time of a run of the suite. */
export interface MachineInfo {
  /** The CPU model, from /proc/cpuinfo. */
  cpu: string;
  /** Logical cores. */
  cores: number;
  /** Total memory in GiB, from /proc/meminfo. */
  memoryGiB: number | undefined;
  /** The Deno, V8 and TypeScript versions. */
  deno: string;
  /** `linux x86_64` and so on. */
  os: string;
  /** The 1-minute load average when the suite started (other work on the machine skews figures). */
  loadAverage: number | undefined;
  /** The git commit of the tree measured, when known. */
  commit: string | undefined;
  /** When the suite ran (ISO 8601). */
  date: string;
}

/** Describes the machine and runtime. */
export async function machineInfo(): Promise<MachineInfo> {
  // Deno reads /proc files only with --allow-all; `cat` (with --allow-run) does too.
  const read = async (path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch {
      try {
        const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
          .output();
        return out.success ? new TextDecoder().decode(out.stdout) : "";
      } catch {
        return "";
      }
    }
  };
  const cpuinfo = await read("/proc/cpuinfo");
  const meminfo = await read("/proc/meminfo");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const memKb = Number(/^MemTotal:\s*(\d+)/m.exec(meminfo)?.[1]);
  let load: number | undefined;
  try {
    load = Deno.loadavg()[0];
  } catch {
    load = undefined;
  }
  let commit: string | undefined;
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) commit = new TextDecoder().decode(out.stdout).trim();
  } catch {
    commit = undefined;
  }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Number.isFinite(memKb) ? Math.round(memKb / 1024 / 1024 * 10) / 10 : undefined,
    deno: `deno ${Deno.version.deno}, v8 ${Deno.version.v8}, typescript ${Deno.version.typescript}`,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    loadAverage: load,
    commit,
    date: new Date().toISOString(),
  };
}

/** The unit of every floor: an async call that does nothing. */
// deno-lint-ignore require-await
export async function noopAsync(x: number): Promise<number> {
  return x;
}
