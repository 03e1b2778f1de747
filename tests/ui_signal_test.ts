// The web UI and time: a run waiting for a signal gets a button that sends
// one (the same sendSignal as `weft signal`), and a sleeping or suspended
// run shows when it wakes. Real `weft ui`, `weft run` processes, a SQLite
// store and headless Chromium.

import assert from "node:assert/strict";
import { deno, ROOT, tempDir } from "./_helpers.ts";
import { browser, FLOWS, pageUntil, startUi, startWeft, stepsRun } from "./_ui_helpers.ts";

Deno.test("a run waiting for a signal in its process gets a Send signal button: name and JSON value asked, confirmed, received", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using run = startWeft([
    "run",
    FLOWS,
    "approval",
    "--input",
    "order=7",
    "--run-id",
    "s1",
    "--store",
    store,
  ]);
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;
  await page.goto(`${ui.origin}/runs/s1`);
  await page.locator('[data-node-id="weft.signal"][data-state="running"]').waitFor({
    timeout: 30_000,
  });
  await page.locator('[data-waits] [data-signal="approve"]').waitFor();
  assert.match(
    await page.locator("[data-waits]").textContent() ?? "",
    /waiting for signal approve since/,
  );

  // The node's panel offers it too.
  await page.locator('[data-node-id="weft.signal"]').click();
  const fromPanel = page.locator(
    '[data-panel="node"][data-node="weft.signal"] [data-action="signal"]',
  );
  assert.equal(await fromPanel.textContent(), "Send signal approve…");
  await fromPanel.click();
  const dialog = page.locator("dialog[data-signal-dialog]");
  assert.equal(await dialog.locator("[data-signal-name]").inputValue(), "approve");
  await dialog.locator("button.secondary").click();
  await dialog.waitFor({ state: "detached" });

  // Kept, nothing is sent.
  await page.locator('.run-head [data-action="signal"]').click();
  assert.equal(await dialog.locator("[data-signal-name]").inputValue(), "approve");
  assert.equal(await dialog.locator("[data-signal-value]").inputValue(), "true");
  await dialog.locator("button.secondary").click();
  await dialog.waitFor({ state: "detached" });
  const none = await (await fetch(`${ui.origin}/api/runs/s1/waits`)).json();
  assert.deepEqual(none.sent, []);
  assert.equal(none.waits[0].signal, "approve");
  assert.equal(run.ended(), false);

  // A value that is not JSON is refused in the dialog, which stays open.
  await page.locator('.run-head [data-action="signal"]').click();
  await dialog.locator("[data-signal-value]").fill("{ok: yes");
  await dialog.locator("[data-confirm-yes]").click();
  assert.match(await dialog.locator("[data-signal-error]").textContent() ?? "", /not JSON/);
  assert.equal(await dialog.count(), 1);

  // Sent: the flow receives the value, hostile text included, and finishes.
  const by = `<img src=x onerror=alert(1)>\u001b[2J`;
  await dialog.locator("[data-signal-value]").fill(JSON.stringify({ ok: true, by }));
  await dialog.locator("[data-confirm-yes]").click();
  await dialog.waitFor({ state: "detached" });
  await page.locator(".toast", { hasText: "Sent signal 'approve' to run s1" }).waitFor();
  const result = await run.result();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout), `approved 7 by ${by}`);
  await page.locator(".run-head .badge.succeeded").waitFor({ timeout: 30_000 });
  assert.equal(
    await page.locator('[data-node-id="weft.signal"]').getAttribute("data-state"),
    "succeeded",
  );
  // No button left, in the header or in the panel (redrawn once the node ended).
  await pageUntil(page, `document.querySelectorAll('[data-action="signal"]').length === 0`);
  assert.equal(await page.locator("[data-waits]").isHidden(), true);
  assert.match(
    await page.locator(".run-head .summary").textContent() ?? "",
    /approved 7 by <img src=x onerror=alert\(1\)>\\x1b\[2J/,
  );
  assert.equal(await page.locator("img").count(), 0);
  assert.deepEqual(b.dialogs, []);
  assert.deepEqual(b.errors, []);
});

Deno.test("a suspended run shows when it wakes; a signal sent from the page is kept, then Resume finishes the run", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  const weft = (args: string[]) => deno(["run", "-A", `${ROOT}/cli.ts`, ...args]);
  const napper = await weft([
    "run",
    FLOWS,
    "napper",
    "--run-id",
    "z1",
    "--suspend",
    "0",
    "--store",
    store,
  ]);
  assert.equal(napper.code, 75, napper.stderr);
  const approval = await weft([
    "run",
    FLOWS,
    "approval",
    "--input",
    "order=8",
    "--run-id",
    "s2",
    "--suspend",
    "0",
    "--store",
    store,
  ]);
  assert.equal(approval.code, 75, approval.stderr);
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;

  // The runs page says when each sleeping run wakes.
  await page.goto(`${ui.origin}/?status=sleeping`);
  const z1 = page.locator('[data-run-id="z1"] [data-wake]');
  await z1.waitFor();
  const node = await (await fetch(`${ui.origin}/api/runs/z1/node?id=weft.sleep`)).json();
  const wakeAt = node.startedAt + 3 * 24 * 3600_000;
  assert.equal(await z1.getAttribute("data-wake"), String(wakeAt));
  assert.match(await z1.textContent() ?? "", /until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  assert.equal(
    await page.locator('[data-run-id="s2"] [data-wake]').textContent(),
    " until a signal",
  );

  // The run page: suspended until three days after its sleep began; no signal to send.
  await page.goto(`${ui.origin}/runs/z1`);
  await page.locator(".run-head .badge.sleeping").waitFor();
  const waits = page.locator("[data-waits]");
  await waits.locator("[data-wake]").waitFor();
  assert.equal(await waits.locator("[data-wake]").getAttribute("data-wake"), String(wakeAt));
  assert.match(await waits.textContent() ?? "", /suspended until \d{4}-.* \(in 7\dh \d\dm\)/);
  assert.match(
    await waits.locator('[data-wait="weft.sleep"]').textContent() ?? "",
    /sleeping until/,
  );
  assert.equal(await page.locator('[data-action="signal"]').count(), 0);
  await page.locator('[data-action="resume"]').waitFor();

  // The suspended approval: send the signal from the page, then resume it from the page.
  await page.goto(`${ui.origin}/runs/s2`);
  await page.locator(".run-head .badge.sleeping").waitFor();
  await page.locator('[data-waits] [data-signal="approve"]').waitFor();
  await page.locator('[data-action="signal"]').click();
  const dialog = page.locator("dialog[data-signal-dialog]");
  await dialog.locator("[data-signal-value]").fill('{"ok": false, "by": "bob"}');
  await dialog.locator("[data-confirm-yes]").click();
  await page.locator(".toast", { hasText: "the run is sleeping" }).waitFor();
  await page.locator('[data-waits] [data-sent="approve"]').waitFor();
  assert.match(
    await page.locator('[data-waits] [data-sent="approve"]').textContent() ?? "",
    /#1 sent .* not yet received: \{ ok: false, by: "bob" \}/,
  );
  await page.locator('[data-action="resume"]').click();
  await page.locator("dialog[data-confirm] [data-confirm-yes]").click();
  await page.locator(".run-head .badge.succeeded").waitFor({ timeout: 30_000 });
  assert.match(await page.locator(".run-head .summary").textContent() ?? "", /rejected by bob/);
  assert.equal(await page.locator("[data-waits]").isHidden(), true);
  assert.deepEqual(b.dialogs, []);
  assert.deepEqual(b.errors, []);
});

Deno.test("the signal API refuses what weft signal refuses: no name, an unknown run, a finished run", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  const done = await deno([
    "run",
    "-A",
    `${ROOT}/cli.ts`,
    ...stepsRun(1, 1, store, "--run-id", "d1"),
  ]);
  assert.equal(done.code, 0, done.stderr);
  await using ui = await startUi(["--store", store]);
  const post = async (runId: string, body: string) => {
    const res = await fetch(`${ui.origin}/api/runs/${runId}/signal`, {
      method: "POST",
      headers: { origin: ui.origin, "content-type": "application/json" },
      body,
    });
    return { status: res.status, error: (await res.json()).error as string };
  };
  const noName = await post("d1", "{}");
  assert.equal(noName.status, 400);
  assert.match(noName.error, /needs a name/);
  const badJson = await post("d1", "{");
  assert.equal(badJson.status, 400);
  assert.match(badJson.error, /as JSON/);
  const unknown = await post("nope", '{"name": "approve"}');
  assert.equal(unknown.status, 400);
  assert.match(unknown.error, /No run 'nope'/);
  const finished = await post("d1", '{"name": "approve", "value": 1}');
  assert.equal(finished.status, 400);
  assert.match(finished.error, /succeeded/);
  const badName = await post("d1", JSON.stringify({ name: "a\u0007b" }));
  assert.equal(badName.status, 400);
  assert.match(badName.error, /signal name/);
  // From another site: refused before anything is read.
  const cross = await fetch(`${ui.origin}/api/runs/d1/signal`, {
    method: "POST",
    headers: { origin: "http://evil.example" },
    body: '{"name": "approve"}',
  });
  assert.equal(cross.status, 403);
  await cross.body?.cancel();
});
