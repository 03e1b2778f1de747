// What the web UI costs, measured with a real `weft ui`, real `weft run`
// processes, a real SQLite store and headless Chromium:
//
//   - the time from a node event (its `time`, as `weft run --json` reports
//     it) to the frame that paints it, median and p90 over a 1,000-node run;
//   - the first paint of a run of 10,000 nodes (navigation to drawn graph),
//     and of 1,000;
//   - the page's JS heap and DOM size for both;
//   - the server's CPU while idle, with a page open and with none;
//   - the runs page over 100,000 runs: first page, a filtered page, a search,
//     and a page deep in the list.
//
//   deno task bench:ui              writes bench/ui_results.md
//   deno task bench:ui --no-write   prints only

import { chromium, type Page } from "npm:playwright-core@1.56.1";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { run } from "../mod.ts";
import { flow, task, wait } from "../mod.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const FLOWS = `${ROOT}/tests/fixtures/ui_flows.ts`;
const write = !Deno.args.includes("--no-write");
const tmp = await Deno.makeTempDir({ prefix: "weft_ui_bench_" });
const store = `sqlite:${tmp}/weft.db`;
const lines: string[] = [];
const say = (s: string) => {
  console.log(s);
  lines.push(s);
};

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/cli.ts`, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

// The server.
const server = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", `${ROOT}/cli.ts`, "ui", "--store", store, "--port", "0"],
  env: { NO_COLOR: "1" },
  stdin: "null",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = server.stdout.getReader();
let first = "";
while (!first.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) throw new Error("weft ui did not start");
  first += new TextDecoder().decode(value);
}
(async () => {
  while (!(await reader.read()).done) { /* drain */ }
})();
const origin = new URL(first.trim()).origin;

const profile = await Deno.makeTempDir({ prefix: "weft_chromium_" });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
  viewport: { width: 1280, height: 800 },
});

async function pageMetrics(page: Page): Promise<{ heapMB: number; nodes: number }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("Performance.enable");
  const { metrics } = await cdp.send("Performance.getMetrics");
  const get = (name: string) => metrics.find((m: { name: string }) => m.name === name)?.value ?? 0;
  await cdp.detach();
  return { heapMB: get("JSHeapUsedSize") / 2 ** 20, nodes: get("Nodes") };
}

try {
  say(`# weft ui: measured`);
  say("");
  say(
    `${
      new Date().toISOString().slice(0, 10)
    }, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`,
  );
  say("");
  say("| measure | value |");
  say("| --- | --- |");

  // 1. Event to paint over a run of 1,000 sequential steps, started after the page opened.
  {
    const page = await context.newPage();
    await page.goto(`${origin}/runs/bench-1000?bench=1`);
    await page.locator("[data-waiting]").waitFor();
    const result = await weft([
      "run",
      FLOWS,
      "steps",
      "--input",
      "n=1000",
      "--input",
      "delay=2",
      "--run-id",
      "bench-1000",
      "--store",
      store,
      "--json",
    ]);
    if (result.code !== 0) throw new Error(result.stderr);
    await page.locator('[data-node-id="step_1000"][data-state="succeeded"]').waitFor();
    await page.waitForTimeout(300);
    const paints = await page.evaluate(() =>
      (globalThis as unknown as { weftPaints: [string, string, number][] }).weftPaints
    );
    const firstPaint = new Map<string, number>();
    const statePaint = new Map<string, number>();
    for (const [key, state, t] of paints) {
      if (!firstPaint.has(key)) firstPaint.set(key, t);
      if (!statePaint.has(`${key}|${state}`)) statePaint.set(`${key}|${state}`, t);
    }
    const lags: number[] = [];
    for (const line of result.stdout.split("\n")) {
      if (line.trim() === "") continue;
      const e = JSON.parse(line) as { type: string; nodeId?: string; time: number };
      if (e.nodeId === undefined) continue;
      const t = e.type === "node added"
        ? firstPaint.get(e.nodeId)
        : e.type === "node succeeded"
        ? statePaint.get(`${e.nodeId}|succeeded`)
        : undefined;
      if (t !== undefined) lags.push(t - e.time);
    }
    say(
      `| node event → paint, 1,000-step run (${lags.length} events) | median ${
        quantile(lags, 0.5).toFixed(0)
      } ms, p90 ${quantile(lags, 0.9).toFixed(0)} ms, max ${Math.max(...lags).toFixed(0)} ms |`,
    );
    const m = await pageMetrics(page);
    say(
      `| page with the 1,000-node run | JS heap ${m.heapMB.toFixed(1)} MB, ${m.nodes} DOM nodes |`,
    );
    await page.close();
  }

  // 2. First paint of runs of 1,000 and 10,000 nodes (recorded already).
  for (const n of [1000, 10000]) {
    const id = `bench-many-${n}`;
    const r = await weft([
      "run",
      FLOWS,
      "many",
      "--input",
      `n=${n}`,
      "--run-id",
      id,
      "--store",
      store,
      "--quiet",
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
    const samples: number[] = [];
    let metrics = { heapMB: 0, nodes: 0 };
    for (let i = 0; i < 5; i++) {
      const page = await context.newPage();
      await page.bringToFront();
      await page.goto(`${origin}/runs/${id}?bench=1`);
      await page.waitForFunction(
        () => (globalThis as unknown as { weftPaints?: unknown[] }).weftPaints?.length,
        undefined,
        { polling: 100, timeout: 120_000 },
      );
      samples.push(
        await page.evaluate(() =>
          (globalThis as unknown as { weftPaints: [string, string, number][] }).weftPaints[0]![2] -
          performance.timeOrigin
        ),
      );
      if (i === 4) metrics = await pageMetrics(page);
      await page.close();
    }
    say(
      `| first paint, run of ${
        n.toLocaleString("en-US")
      } nodes (navigation → graph drawn) | median ${quantile(samples, 0.5).toFixed(0)} ms (of 5) |`,
    );
    say(
      `| page with the ${n.toLocaleString("en-US")}-node run | JS heap ${
        metrics.heapMB.toFixed(1)
      } MB, ${metrics.nodes} DOM nodes |`,
    );
  }

  // 3. Idle server CPU, with a page open (its event stream connected) and with none.
  {
    const ticks = async () => {
      // (through cat: Deno asks for --allow-all to read /proc)
      const out = await new Deno.Command("cat", { args: [`/proc/${server.pid}/stat`] }).output();
      const stat = new TextDecoder().decode(out.stdout);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(f[11]) + Number(f[12]);
    };
    const hz = 100;
    const page = await context.newPage();
    await page.goto(`${origin}/runs/bench-1000`);
    await page.locator('[data-node-id="step"]').waitFor();
    // The runs drawn above keep their views 30 s after their last page left
    // (a reload comes back to them); freeing them is not idle work: wait it out.
    await new Promise((r) => setTimeout(r, 35_000));
    let t0 = await ticks();
    await new Promise((r) => setTimeout(r, 20_000));
    const open = ((await ticks()) - t0) / hz / 20;
    await page.close();
    await new Promise((r) => setTimeout(r, 35_000));
    t0 = await ticks();
    await new Promise((r) => setTimeout(r, 20_000));
    const none = ((await ticks()) - t0) / hz / 20;
    say(
      `| server CPU while idle (20 s, 35 s after the last change of pages) | ${
        (open * 100).toFixed(2)
      }% with a run page open, ${(none * 100).toFixed(2)}% with none |`,
    );
  }

  // 4. The runs page over 100,000 runs.
  {
    const s = SqliteStore.open(`${tmp}/weft.db`);
    const one = task(function one(x: number) {
      return x;
    });
    const other = flow(async function* other(x: number) {
      return yield* wait(one(x));
    });
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) {
      await run(i % 10 === 0 ? other : one, { x: i }, {
        store: s,
        runId: `r${String(i).padStart(6, "0")}`,
      });
    }
    const made = performance.now() - t0;
    s.close();
    const time = async (path: string) => {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        const res = await fetch(`${origin}${path}`);
        await res.json();
        xs.push(performance.now() - t);
      }
      return quantile(xs, 0.5);
    };
    const page1 = await (await fetch(`${origin}/api/runs?limit=50`)).json() as {
      next: { startedAt: number; id: string };
    };
    say(`| 100,000 runs recorded for the runs page | in ${(made / 1000).toFixed(0)} s |`);
    say(`| runs page: first 50 of 100,000 | ${(await time("/api/runs?limit=50")).toFixed(1)} ms |`);
    say(
      `| runs page: next 50 | ${
        (await time(`/api/runs?limit=50&before=${page1.next.startedAt}:${page1.next.id}`)).toFixed(
          1,
        )
      } ms |`,
    );
    say(
      `| runs page: 50 of entity 'other' (10,000) | ${
        (await time("/api/runs?limit=50&entity=other")).toFixed(1)
      } ms |`,
    );
    say(
      `| runs page: status failed (none) | ${
        (await time("/api/runs?limit=50&status=failed")).toFixed(1)
      } ms |`,
    );
    say(
      `| runs page: search '0999' | ${(await time("/api/runs?limit=50&q=0999")).toFixed(1)} ms |`,
    );
    const deep = await (await fetch(`${origin}/api/runs/r010000`)).json() as { startedAt: number };
    say(
      `| runs page: 50 after the 90,000th | ${
        (await time(`/api/runs?limit=50&before=${deep.startedAt}:r010000`)).toFixed(1)
      } ms |`,
    );
    say(`| entity filter list | ${(await time("/api/entities")).toFixed(1)} ms |`);
  }
} finally {
  await context.close();
  try {
    server.kill("SIGINT");
  } catch {
    // gone
  }
  await server.status;
  await Deno.remove(profile, { recursive: true }).catch(() => {});
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
if (write) {
  await Deno.writeTextFile(`${ROOT}/bench/ui_results.md`, `${lines.join("\n")}\n`);
  console.log("wrote bench/ui_results.md");
}
