// Workload 4: mixed work with `--isolate` Workers. 40 tasks of about 10 ms of
// CPU in a chain (the Worker round trip is pure overhead there) and a
// fan-out of 8 (one Worker per core can run them in parallel): the speed-up
// of two Workers over one on this machine's cores, and the cost against
// running in the main thread.

import "../../mod.ts";
import { runWith } from "../../src/engine/mod.ts";
import { IsolateExecutor } from "../../src/engine/executors/isolate.ts";
import { median, type Row, timeMs, type Workload } from "../_harness.ts";
import { chain40, fan8 } from "../fixtures/cpu.ts";

const FIXTURE = new URL("../fixtures/cpu.ts", import.meta.url).href;
const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");

async function timed(
  entity: typeof chain40 | typeof fan8,
  ms: number,
  poolSize: number | undefined,
): Promise<number> {
  const executor = poolSize === undefined ? undefined : new IsolateExecutor({
    url: FIXTURE,
    perTask: { burn: {} },
    moduleRead: [ROOT],
    importHosts: [],
    poolSize,
  });
  try {
    if (executor !== undefined) {
      // Start the Workers (and import the script in them) before timing.
      await runWith(entity, { ms: 1 }, { store: "memory", executor, concurrency: 8 });
    }
    let status = "";
    const t = await timeMs(async () => {
      status = (await runWith(
        entity,
        { ms },
        executor === undefined
          ? { store: "memory", concurrency: 8 }
          : { store: "memory", executor, concurrency: 8 },
      )).status;
    });
    if (status !== "succeeded") throw new Error(`${entity.name} ended ${status}`);
    return t;
  } finally {
    executor?.close();
  }
}

/** CPU tasks in Workers, one and two per task, against the main thread. */
export const isolateWorkload: Workload = {
  name: "isolate",
  description:
    "40 CPU tasks of ~10 ms in a chain and 8 in a fan-out, in --isolate Workers (1 and 2) and in-thread",
  async run(ctx) {
    const ms = ctx.smoke ? 2 : 10;
    const repeats = ctx.smoke ? 1 : 3;
    const rows: Row[] = [];
    const sample = async (entity: typeof chain40 | typeof fan8, pool: number | undefined) => {
      const out: number[] = [];
      for (let i = 0; i < repeats; i++) out.push(await timed(entity, ms, pool));
      return out;
    };
    const cores = navigator.hardwareConcurrency;
    const chainThread = await sample(chain40, undefined);
    const chainWorker = await sample(chain40, 1);
    rows.push({
      workload: "isolate",
      variant: "chain of 40, one Worker",
      n: 40,
      metric: "ms",
      value: median(chainWorker),
      samples: chainWorker,
      floor: median(chainThread),
      floorName: "the same in the main thread",
      ratio: median(chainWorker) / median(chainThread),
      notes: `${ms} ms of CPU per task; the ratio is the Worker round-trip overhead`,
    });
    const fanThread = await sample(fan8, undefined);
    const fanOne = await sample(fan8, 1);
    const fanTwo = await sample(fan8, 2);
    const speedup = median(fanOne) / median(fanTwo);
    rows.push({
      workload: "isolate",
      variant: "fan-out of 8, two Workers",
      n: 8,
      metric: "ms",
      value: median(fanTwo),
      samples: fanTwo,
      floor: median(fanOne),
      floorName: "one Worker",
      ratio: median(fanTwo) / median(fanOne),
      notes: `speed-up ${speedup.toFixed(2)}× over one Worker on ${cores} cores (main thread: ${
        median(fanThread).toFixed(0)
      } ms)`,
    });
    ctx.log(
      `isolate: chain ${median(chainWorker).toFixed(0)} ms vs ${
        median(chainThread).toFixed(0)
      } in-thread; fan-out speed-up ${speedup.toFixed(2)}×`,
    );
    return rows;
  },
};
