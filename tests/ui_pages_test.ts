// Pages in Chromium against a real `weft ui` over a real SQLite store: the
// runs page (newest first, pages, filters by status and entity, search by
// id), the timeline of a run, and the node panel's long values and cache hits.

import assert from "node:assert/strict";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { flow, run, task, wait } from "../mod.ts";
import { ROOT, tempDir } from "./_helpers.ts";
import { browser, pageUntil, startUi, until } from "./_ui_helpers.ts";

const one = task(function one(x: number) {
  return x;
});
const odd = task(function odd(x: number) {
  if (x % 2 === 1) throw new RangeError(`odd ${x}`);
  return x;
});
const nap = task(async function nap(x: number) {
  await new Promise((r) => setTimeout(r, 150));
  return x + 1;
});
const big = task({ name: "big", cache: true, version: "1" }, function big(n: number) {
  return Array.from({ length: n }, (_, i) => `line ${i}`).join("\n") + "\nthe end";
});
const pair = flow(async function* pair(x: number) {
  const a = yield* wait(nap(x));
  return yield* wait(nap(a));
});

Deno.test("the runs page lists runs newest first, 50 a page, filtered by status and entity, searched by id", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  // 120 runs: 100 of one (r000…r099), then 20 of odd (r100…r119, every other one fails).
  for (let i = 0; i < 120; i++) {
    await run(i < 100 ? one : odd, { x: i }, {
      store,
      runId: `r${String(i).padStart(3, "0")}`,
    });
  }
  store.close();
  await using ui = await startUi(["--store", `sqlite:${tmp.dir}/weft.db`]);
  await using b = await browser();
  const { page } = b;
  const ids = () =>
    page.locator("table.runs tbody tr[data-run-id]").evaluateAll(
      (rows) => rows.map((r) => r.getAttribute("data-run-id")),
    );
  const showing = async (first: string, count: number) => {
    await page.locator(`table.runs tbody tr[data-run-id]`).first().and(
      page.locator(`[data-run-id="${first}"]`),
    ).waitFor();
    await pageUntil(
      page,
      `document.querySelectorAll("table.runs tbody tr[data-run-id]").length === ${count}`,
    );
  };
  const name = (i: number) => `r${String(i).padStart(3, "0")}`;

  await page.goto(`${ui.origin}/`);
  await showing("r119", 50);
  assert.deepEqual(await ids(), Array.from({ length: 50 }, (_, k) => name(119 - k)));
  const row = page.locator('[data-run-id="r119"]');
  assert.equal(await row.getAttribute("data-status"), "failed");
  assert.match(await row.textContent() ?? "", /odd/);
  assert.match(await row.locator(".tasks").textContent() ?? "", /1 failed/);
  assert.equal(await page.locator('[data-page="newer"]').isDisabled(), true);

  // Pages: older, older (the last 20), then back.
  await page.locator('[data-page="older"]').click();
  await showing("r069", 50);
  await page.locator('[data-page="older"]').click();
  await showing("r019", 20);
  assert.deepEqual(await ids(), Array.from({ length: 20 }, (_, k) => name(19 - k)));
  assert.equal(await page.locator('[data-page="older"]').isDisabled(), true);
  await page.locator('[data-page="newer"]').click();
  await showing("r069", 50);

  // Status: the 10 failed runs, all of odd.
  await page.locator('[data-filter="status"]').selectOption("failed");
  await showing("r119", 10);
  assert.deepEqual(await ids(), Array.from({ length: 10 }, (_, k) => name(119 - 2 * k)));
  assert.match(page.url(), /status=failed/);
  // Entity and status together: succeeded runs of odd.
  await page.locator('[data-filter="status"]').selectOption("succeeded");
  await page.locator('[data-filter="entity"]').selectOption("odd");
  await showing("r118", 10);
  assert.deepEqual(await ids(), Array.from({ length: 10 }, (_, k) => name(118 - 2 * k)));
  // Any status of one.
  await page.locator('[data-filter="status"]').selectOption("");
  await page.locator('[data-filter="entity"]').selectOption("one");
  await showing("r099", 50);
  // Search by id (with the entity filter on): r05x.
  await page.locator('[data-filter="search"]').fill("r05");
  await showing("r059", 10);
  assert.deepEqual(await ids(), Array.from({ length: 10 }, (_, k) => name(59 - k)));
  // Nothing matches: said so.
  await page.locator('[data-filter="search"]').fill("zzz");
  await page.locator("table.runs tbody", { hasText: "No runs match." }).waitFor();
  // The filters are in the URL: a reload keeps them.
  await page.locator('[data-filter="search"]').fill("r11");
  await page.locator('[data-filter="entity"]').selectOption("");
  await showing("r119", 10);
  await page.reload();
  await showing("r119", 10);
  assert.equal(await page.locator('[data-filter="search"]').inputValue(), "r11");
  assert.deepEqual(b.errors, []);
});

Deno.test("the timeline draws a bar per node from its start to its end, in its state's colour; clicking a row opens the node", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  await run(pair, { x: 1 }, { store, runId: "t1" });
  store.close();
  await using ui = await startUi(["--store", `sqlite:${tmp.dir}/weft.db`]);
  await using b = await browser();
  const { page } = b;
  await page.goto(`${ui.origin}/runs/t1`);
  await page.locator('[data-node-id="nap_2"][data-state="succeeded"]').waitFor();
  await page.locator('[data-tab="timeline"]').click();
  const canvas = page.locator(".tab-timeline canvas[data-timeline]");
  await canvas.waitFor();
  const rows = await (await fetch(`${ui.origin}/api/runs/t1/timeline`)).json() as {
    id: string;
    startedAt: number;
    finishedAt: number;
  }[];
  assert.deepEqual(rows.map((r) => r.id), ["nap", "nap_2"]);
  const start = Math.min(...rows.map((r) => r.startedAt));
  const span = Math.max(...rows.map((r) => r.finishedAt)) - start;
  // The page's geometry (timeline.js): labels 220 px wide, rows of 16 px from y = 20.
  const width = await page.evaluate<number>(
    `document.querySelector(".tab-timeline canvas").clientWidth`,
  );
  const plot = Math.max(50, width - 220 - 12);
  const xAt = (t: number) => 220 + ((t - start) / span) * plot;
  // The colour of a pixel of the canvas, "r,g,b" (page code as text: the test has no DOM types).
  const colour = async (x: number, y: number): Promise<string> =>
    await page.evaluate(`(() => {
      const c = document.querySelector(".tab-timeline canvas");
      const d = c.getContext("2d").getImageData(
        Math.round(${x} * devicePixelRatio), Math.round(${y} * devicePixelRatio), 1, 1).data;
      return d[0] + "," + d[1] + "," + d[2];
    })()`);
  // Drawn once the rows arrived: the first bar's colour shows.
  await pageUntil(
    page,
    `(() => {
    const c = document.querySelector(".tab-timeline canvas");
    return c.width > 0 && c.getContext("2d").getImageData(0, 0, c.width, c.height).data
      .some((v, i) => i % 4 === 1 && v === 197);
  })()`,
  );
  const GREEN = "34,197,94"; // succeeded
  for (const [i, r] of rows.entries()) {
    const y = 20 + i * 16 + 8;
    assert.equal(await colour((xAt(r.startedAt) + xAt(r.finishedAt)) / 2, y), GREEN, r.id);
  }
  // nap_2 ran after nap had ended: nothing is drawn on its row before, nor on nap's after.
  assert.notEqual(await colour((xAt(rows[0]!.startedAt) + 226) / 2 + 2, 20 + 16 + 8), GREEN);
  assert.notEqual(await colour(xAt(rows[1]!.finishedAt) - 3, 20 + 8), GREEN);
  await canvas.click({ position: { x: 300, y: 20 + 16 + 8 } });
  await page.locator('[data-panel="node"][data-node="nap_2"] [data-io="output:o0"] pre').waitFor();
  assert.equal(
    await page.locator('[data-panel="node"] [data-io="output:o0"] pre').textContent(),
    "3",
  );
  assert.deepEqual(b.errors, []);
});

Deno.test("a long value is cut with a way to see all of it; a cache hit's panel links to the run it reused", async () => {
  await using tmp = await tempDir();
  const store = SqliteStore.open(`${tmp.dir}/weft.db`);
  await run(big, { n: 2000 }, { store, runId: "first" });
  const again = await run(big, { n: 2000 }, { store, runId: "again" });
  assert.equal(again.status, "succeeded");
  store.close();
  await using ui = await startUi(["--store", `sqlite:${tmp.dir}/weft.db`]);
  await using b = await browser();
  const { page } = b;
  await page.goto(`${ui.origin}/runs/again`);
  const node = page.locator('[data-node-id="big"]');
  assert.equal(await node.getAttribute("data-state"), "cached");
  await node.click();
  const panel = page.locator('[data-panel="node"][data-node="big"]');
  const output = panel.locator('[data-io="output:o0"] pre');
  await output.waitFor();
  const cut = await output.textContent() ?? "";
  assert.equal(cut.length, 2000);
  assert.ok(!cut.includes("the end"));
  await panel.locator('[data-io="output:o0"] button:has-text("show all")').click();
  await panel.locator('[data-io="output:o0"] pre', { hasText: "the end" }).waitFor();
  const all = await output.textContent() ?? "";
  assert.equal(all.split("\n").length, 2001);
  assert.equal(await panel.locator('button:has-text("show all")').count(), 0);
  // The cache source: a link to the node of the run that made the value.
  const link = panel.locator("a", { hasText: "first/big" });
  await link.click();
  await page.locator('[data-panel="node"][data-node="big"] [data-io="output:o0"] pre').waitFor();
  assert.equal(new URL(page.url()).pathname, "/runs/first");
  assert.equal(
    await page.locator('[data-node-id="big"]').getAttribute("data-state"),
    "succeeded",
  );
  assert.deepEqual(b.errors, []);
});

Deno.test("weft ui --open hands the page's URL to the system's opener (xdg-open)", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.dir}/bin`);
  await Deno.writeTextFile(
    `${tmp.dir}/bin/xdg-open`,
    `#!/bin/sh\nprintf '%s\\n' "$@" > "${tmp.dir}/opened"\n`,
  );
  await Deno.chmod(`${tmp.dir}/bin/xdg-open`, 0o755);
  await using ui = await startUi(
    ["--store", `sqlite:${tmp.dir}/weft.db`, "--open", "examples/regression.ts"],
    ROOT,
    { PATH: `${tmp.dir}/bin:${Deno.env.get("PATH") ?? ""}` },
  );
  const opened = await until("xdg-open to be called", async () => {
    const text = await Deno.readTextFile(`${tmp.dir}/opened`).catch(() => "");
    return text.endsWith("\n") ? text.trim() : undefined;
  });
  assert.equal(opened, ui.url);
  assert.match(opened, /^http:\/\/127\.0\.0\.1:\d+\/script$/);
});
