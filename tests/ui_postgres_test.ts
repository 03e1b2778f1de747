// The web UI over a PostgreSQL store: a run driven by `weft run` in another
// process shows up and grows live (the server hears of commits on LISTEN
// weft_changes), and a signal sent from its page reaches the waiting flow.
// Real PostgreSQL cluster, real processes, headless Chromium.

import assert from "node:assert/strict";
import { postgresMissing, sharedCluster } from "./_postgres.ts";
import { browser, FLOWS, startUi, startWeft, stepsRun, until } from "./_ui_helpers.ts";

const ignore = postgresMissing() !== undefined;
if (ignore) console.warn(`weft: PostgreSQL UI tests skipped: ${postgresMissing()}`);

Deno.test({
  name:
    "over a PostgreSQL store, a run page follows a weft run in another process live, and its Send signal reaches the flow",
  ignore,
  async fn() {
    const store = await (await sharedCluster()).createDatabase("ui");
    await using ui = await startUi(["--store", store]);
    await using b = await browser();
    const { page } = b;
    await page.goto(`${ui.origin}/runs/pg-steps`);
    await page.locator("[data-waiting]").waitFor();
    await using steps = startWeft(stepsRun(20, 100, store, "--run-id", "pg-steps"));
    const seen = new Set<number>();
    while (!steps.ended()) {
      const n = await page.locator("[data-node-id]").count();
      if (!steps.ended() && n > 0 && n < 20) seen.add(n);
      await new Promise((r) => setTimeout(r, 40));
    }
    const done = await steps.result();
    assert.equal(done.code, 0, done.stderr);
    assert.ok(seen.size >= 3, `nodes appeared while the run ran (counts seen: ${[...seen]})`);
    await until(
      "20 succeeded nodes",
      async () =>
        await page.locator('[data-node-id][data-state="succeeded"]').count() === 20 || undefined,
    );
    await page.locator(".run-head .badge.succeeded").waitFor();

    // The runs page lists it; then a run that waits for a signal.
    await page.goto(`${ui.origin}/`);
    await page.locator('[data-run-id="pg-steps"]').waitFor();
    await using approval = startWeft([
      "run",
      FLOWS,
      "approval",
      "--input",
      "order=3",
      "--run-id",
      "pg-approval",
      "--store",
      store,
    ]);
    await page.locator('[data-run-id="pg-approval"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-run-id="pg-approval"] a').click();
    await page.locator('[data-waits] [data-signal="approve"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-action="signal"]').click();
    const dialog = page.locator("dialog[data-signal-dialog]");
    await dialog.locator("[data-signal-value]").fill('{"ok": true, "by": "pg"}');
    await dialog.locator("[data-confirm-yes]").click();
    const result = await approval.result();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout), "approved 3 by pg");
    await page.locator(".run-head .badge.succeeded").waitFor({ timeout: 30_000 });
    assert.deepEqual(b.dialogs, []);
    assert.deepEqual(b.errors, []);
  },
});
