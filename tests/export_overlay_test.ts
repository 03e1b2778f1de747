// `weft export RUN --format html` of a run of a flow: the run laid over the
// flow's skeleton, end to end (weft run, weft export, the page in headless
// Chromium): a loop's iterations as the run made them, the arm not taken
// greyed, a failed run's unreached zones, and a one-line note when the
// script is gone or no longer has the flow.

import assert from "node:assert/strict";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { deno, ROOT, tempDir } from "./_helpers.ts";
import { chromiumContext } from "./_ui_helpers.ts";

/** Runs `weft` with a store in `dir`. */
async function weft(dir: string, args: string[]) {
  return await deno(["run", "-A", `${ROOT}/cli.ts`, ...args, "--store", `sqlite:${dir}/weft.db`], {
    cwd: dir,
  });
}

async function runFlow(dir: string, script: string, flow: string, id: string, inputs: string[]) {
  const out = await weft(dir, [
    "run",
    script,
    flow,
    ...inputs.flatMap((i) => ["--input", i]),
    "--run-id",
    id,
  ]);
  return out;
}

/** Exports a run as HTML into `dir`, returning the file. */
async function exportHtml(dir: string, id: string): Promise<string> {
  const file = `${dir}/${id}.html`;
  const out = await weft(dir, ["export", id, "--format", "html", "--out", file]);
  assert.equal(out.code, 0, out.stderr);
  return file;
}

const browser = () => chromiumContext({ width: 1280, height: 900 });

const AIIDA = `${ROOT}/examples/aiida_flows.ts`;

/** The page's `getComputedStyle` (it runs in the page; Deno's types do not have the DOM). */
type Styled = { getComputedStyle(e: unknown): { fill: string; opacity: string } };

Deno.test("weft export --format html draws keepDoubling's loop with as many iterations as the run made multiply calls", async () => {
  await using tmp = await tempDir();
  const runs = [["kd-3-4", "x=3", "y=4"], ["kd-0-0", "x=0", "y=0"]];
  for (const [id, ...inputs] of runs) {
    const out = await runFlow(tmp.dir, AIIDA, "keepDoubling", id!, inputs);
    assert.equal(out.code, 0, out.stderr);
  }
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  const multiplies = new Map<string, number>();
  for (const [id] of runs) {
    const details = (await store.getRun(id!))!;
    multiplies.set(id!, details.nodes.filter((n) => n.entity === "multiply").length);
  }
  store.close();
  assert.deepEqual([...multiplies.values()], [1, 3], "1 round from 7, 3 rounds from 0");

  await using b = await browser();
  for (const [id] of runs) {
    const file = await exportHtml(tmp.dir, id!);
    const page = await b.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    const n = multiplies.get(id!)!;
    const section = page.locator('g.skeleton-section[data-flow="keepDoubling"]');
    assert.equal(await section.count(), 1, id);
    const loop = section.locator("g.zone.loop");
    assert.equal(await loop.getAttribute("data-iterations"), String(n), id);
    assert.equal(await loop.getAttribute("data-state"), "ran");
    const label = `while: ${n} iteration${n === 1 ? "" : "s"}`;
    assert.equal(await loop.locator("text.zone-label").textContent(), label, id);
    assert.match((await section.locator("text.workflow-title").textContent())!, new RegExp(label));
    // The loop's multiply box carries the run's multiply nodes, and is drawn in their colour.
    const multiply = section.locator("g.node.sk.call", { hasText: "multiply" });
    assert.equal(await multiply.getAttribute("data-state"), "succeeded");
    assert.equal(
      await multiply.locator(".shape").evaluate((e) =>
        (globalThis as unknown as Styled).getComputedStyle(e).fill
      ),
      "rgb(220, 252, 231)",
    );
    if (n > 1) assert.equal(await multiply.locator("text.badge").textContent(), `×${n}`);
    await multiply.hover();
    const details = (await page.locator("#weft-details").textContent())!;
    assert.match(details, /In this run/);
    assert.match(details, /multiply/);
    // The provenance graph is still all there.
    assert.ok(await page.locator("g.node:not(.sk)").count() > 2 * n);
    assert.equal(await page.locator("p.note").count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  }
});

Deno.test("weft export --format html of addMultiplyIf greys the branch not taken, both ways", async () => {
  await using tmp = await tempDir();
  const cases = [
    { id: "if-pos", inputs: ["x=3", "y=4"], taken: "then", skipped: "else", call: "add" },
    { id: "if-neg", inputs: ["x=-3", "y=1"], taken: "else", skipped: "then", call: "multiply" },
  ];
  for (const c of cases) {
    const out = await runFlow(tmp.dir, AIIDA, "addMultiplyIf", c.id, c.inputs);
    assert.equal(out.code, 0, out.stderr);
  }
  await using b = await browser();
  for (const c of cases) {
    const page = await b.context.newPage();
    await page.goto(`file://${await exportHtml(tmp.dir, c.id)}`);
    const section = page.locator('g.skeleton-section[data-flow="addMultiplyIf"]');
    const taken = section.locator(`g.zone.${c.taken}`);
    const skipped = section.locator(`g.zone.${c.skipped}`);
    assert.equal(await taken.getAttribute("data-state"), "ran", c.id);
    assert.equal(await skipped.getAttribute("data-state"), "skipped", c.id);
    assert.match((await skipped.locator("title").textContent())!, /not taken/);
    // Greyed in the browser: the skipped arm and its call are faded, the arm taken is not.
    const opacity = (l: typeof taken) =>
      l.evaluate((e) => Number((globalThis as unknown as Styled).getComputedStyle(e).opacity));
    assert.ok(await opacity(skipped) < 0.5, `${c.id}: the ${c.skipped} arm is greyed`);
    assert.equal(await opacity(taken), 1);
    // The call only the skipped arm makes did not run (the arm taken has its own).
    const arm = (await skipped.locator("rect").boundingBox())!;
    const calls = section.locator(`g.node.sk.call[data-state="skipped"]`);
    assert.equal(await calls.count(), 1, c.id);
    assert.equal(await calls.locator("tspan.title").textContent(), c.call);
    const at = (await calls.boundingBox())!;
    assert.ok(at.x > arm.x && at.x + at.width < arm.x + arm.width, "it is drawn in the arm");
    assert.ok(await opacity(calls) < 0.5);
    await page.close();
  }
});

Deno.test("weft export --format html: a failed run's unreached zones, and a note when the script is gone or lost the flow", async () => {
  await using tmp = await tempDir();
  const script = `${tmp.dir}/flows.ts`;
  const source = (flow: string) => `
import { flow, task, wait } from ${JSON.stringify(`file://${ROOT}/mod.ts`)};
export const add = task(function add(x: number, y: number) { return x + y; });
export const boom = task(function boom(x: number): number {
  if (x > 4) throw new Error("too big: " + x);
  return x * 2;
});
export const ${flow} = flow(async function* ${flow}(x: number) {
  let out = add(x, 1);
  while ((yield* wait(out)) < 100) {
    out = boom(out);
  }
  return out;
});
`;
  await Deno.writeTextFile(script, source("grow"));
  const failed = await runFlow(tmp.dir, script, "grow", "grow-1", ["x=1"]);
  assert.equal(failed.code, 1, failed.stderr);

  await using b = await browser();
  const page = await b.context.newPage();
  await page.goto(`file://${await exportHtml(tmp.dir, "grow-1")}`);
  const section = page.locator('g.skeleton-section[data-flow="grow"]');
  // add(1, 1) = 2, boom(2) = 4, boom(4) = 8, boom(8) fails: three rounds, the last one failed.
  assert.equal(await section.locator("g.zone.loop").getAttribute("data-iterations"), "3");
  assert.equal(
    await section.locator("g.node.sk.call", { hasText: "boom" }).getAttribute("data-state"),
    "failed",
  );
  assert.equal(
    await section.locator("g.node.sk.exit", { hasText: "return" }).getAttribute("data-state"),
    "not-reached",
  );
  assert.equal(await page.locator("p.note").count(), 0);

  // The flow renamed: the page says so in a line, and shows the rest.
  await Deno.writeTextFile(script, source("grown"));
  await page.goto(`file://${await exportHtml(tmp.dir, "grow-1")}`);
  assert.equal(
    await page.locator("p.note").textContent(),
    "The flow's skeleton is not shown: its script flows.ts has no flow named 'grow' any more.",
  );
  assert.equal(await page.locator("g.skeleton-section").count(), 0);
  assert.equal(await page.locator("g.node").count() > 4, true, "the provenance graph is drawn");

  // The script gone.
  await Deno.remove(script);
  await page.goto(`file://${await exportHtml(tmp.dir, "grow-1")}`);
  assert.equal(
    await page.locator("p.note").textContent(),
    "The flow's skeleton is not shown: its script flows.ts no longer exists.",
  );
  assert.equal(await page.locator("g.node").count() > 4, true);
});
