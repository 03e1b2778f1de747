// The web UI, end to end: a real `weft ui` server over a real SQLite store,
// runs started by `weft run` in other processes, and headless Chromium.

import assert from "node:assert/strict";
import { deno, tempDir } from "./_helpers.ts";
import { browser, FLOWS, startUi, startWeft, stepsRun, until } from "./_ui_helpers.ts";

Deno.test("the run page shows a 50-step flow run by weft run in another process grow live, then its final state", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;
  // The page is open before the run exists: it waits for it.
  await page.goto(`${ui.origin}/runs/live-50`);
  await page.locator("[data-waiting]").waitFor();
  await using run = startWeft(stepsRun(50, 60, store, "--run-id", "live-50"));
  const seen = new Set<number>();
  while (!run.ended()) {
    const n = await page.locator("[data-node-id]").count();
    if (!run.ended() && n > 0 && n < 50) seen.add(n);
    await new Promise((r) => setTimeout(r, 40));
  }
  const result = await run.result();
  assert.equal(result.code, 0, result.stderr);
  assert.ok(seen.size >= 3, `nodes appeared while the run ran (counts seen: ${[...seen]})`);
  await until(
    "50 succeeded nodes",
    async () =>
      await page.locator('[data-node-id][data-state="succeeded"]').count() === 50 || undefined,
  );
  assert.equal(await page.locator("[data-node-id]").count(), 50);
  assert.equal(
    await page.locator('[data-node-id="step_50"]').getAttribute("data-state"),
    "succeeded",
  );
  await page.locator(".run-head .badge.succeeded").waitFor();
  assert.deepEqual(b.errors, []);
});

Deno.test("clicking a node shows its inputs, output, timings and permissions; a failed node shows its error and stack", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using run = startWeft(["run", FLOWS, "failing", "--run-id", "f1", "--store", store]);
  assert.equal((await run.result()).code, 1);
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;
  await page.goto(`${ui.origin}/runs/f1`);
  await page.locator('[data-node-id="step"][data-state="succeeded"]').click();
  const panel = page.locator('[data-panel="node"]');
  await panel.locator('[data-io="output:o0"] pre').waitFor();
  assert.equal(await panel.locator('[data-io="output:o0"] pre').textContent(), "2");
  assert.equal(await panel.locator('[data-io="input:i"] pre').textContent(), "1");
  assert.match(await panel.textContent() ?? "", /permissions/i);
  assert.match(await panel.textContent() ?? "", /none declared/);
  assert.equal(
    await panel.locator("[data-log] .message").first().textContent(),
    "step 1 says hello",
  );
  // The lineage of its output: step made it, boom used it.
  await panel.locator('[data-io="output:o0"] button:has-text("lineage")').click();
  const lineage = page.locator(".tab-lineage");
  await lineage.locator('[data-ref-node="f1/boom"]').waitFor();
  await lineage.locator('[data-ref-node="f1/step"]').waitFor();
  assert.equal(await lineage.locator(".node.focus").count(), 1);
  // Across runs, the same.
  await lineage.locator("[data-across]").check();
  await lineage.locator('[data-ref-node="f1/boom"]').waitFor();
  // The flow's skeleton with what the run did: step ran, boom ran and failed.
  await page.locator('[data-tab="skeleton"]').click();
  const skeleton = page.locator(".tab-skeleton svg[data-skeleton]");
  await skeleton.waitFor();
  assert.ok(await skeleton.locator('.node.sk[data-state="succeeded"]').count() >= 1);
  assert.ok(await skeleton.locator('.node.sk[data-state="failed"]').count() >= 1);
  await skeleton.locator('.node.sk[data-state="failed"]').last().click();
  await page.locator("aside.panel h2").waitFor();
  assert.match(await page.locator("aside.panel").textContent() ?? "", /boom/);
  await page.locator('[data-tab="graph"]').click();

  await page.locator('[data-node-id="boom"]').click();
  await page.locator('[data-panel="node"][data-node="boom"] .error-block').first().waitFor();
  const text = await page.locator('[data-panel="node"]').textContent() ?? "";
  assert.equal(await page.locator('[data-node-id="boom"]').getAttribute("data-state"), "failed");
  assert.match(text, /boom at 2 \(attempt 2\)/);
  assert.match(text, /RangeError/);
  assert.match(text, /stack/);
  // The first attempt failed too, and was tried again: its error is listed with its stack.
  assert.match(text, /Earlier attempts.*attempt 1.*boom at 2 \(attempt 1\)/s);
  assert.deepEqual(
    await page.locator('[data-panel="node"] [data-log] .message').allTextContents(),
    ["attempt 1 with 2", "attempt 2 with 2"],
  );
  assert.deepEqual(b.errors, []);
});

Deno.test("hostile task names, values, logs and errors render as text: no dialog, no injected element", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using run = startWeft(["run", FLOWS, "hostileFlow", "--run-id", "h1", "--store", store]);
  assert.equal((await run.result()).code, 1);
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;
  await page.goto(`${ui.origin}/`);
  await page.locator('[data-run-id="h1"]').waitFor();
  await page.goto(`${ui.origin}/runs/h1`);
  const name = `<script>alert("name")</script>`;
  const node = page.locator(`[data-node-id=${JSON.stringify(name)}]`);
  await node.click();
  await page.locator('[data-panel="node"] [data-io="output:o0"] pre').waitFor();
  const value = await page.locator('[data-panel="node"] [data-io="output:o0"] pre').textContent();
  assert.equal(
    value,
    "value <img src=x onerror=alert(1)></script><script>alert(2)</script>\\x1b[31m\\x1b[2J",
  );
  assert.equal(await node.locator(".title").textContent(), name);
  await page.locator('[data-node-id="onerror=alert(3)"]').click();
  await page.locator('[data-panel="node"] .error-block').first().waitFor();
  await page.locator('[data-tab="timeline"]').click();
  await page.locator('[data-tab="graph"]').click();
  // Only the page's own scripts, no img, no dialog.
  assert.equal(await page.locator("script").count(), 2);
  assert.equal(await page.locator("img").count(), 0);
  assert.deepEqual(b.dialogs, []);
  assert.deepEqual(b.errors, []);
  const body = await page.locator("body").textContent() ?? "";
  assert.ok(body.includes("onerror=alert(1)"), "the hostile text shows as text");
  assert.ok(!body.includes("\u001b"), "terminal escapes are shown escaped");
});

Deno.test("weft ui SCRIPT shows the compiled IR of the script with the export's details; nothing runs", async () => {
  await using tmp = await tempDir();
  await using ui = await startUi([
    "--store",
    `sqlite:${tmp.dir}/weft.db`,
    "examples/regression.ts",
  ]);
  assert.match(ui.url, /\/script$/);
  await using b = await browser();
  const { page } = b;
  await page.goto(ui.url);
  await page.locator('[data-node-id="intercept"]').first().click();
  const panel = page.locator('[data-panel="node"]');
  await panel.locator("h2").waitFor();
  assert.equal(await panel.locator("h2").textContent(), "intercept");
  assert.match(await panel.textContent() ?? "", /Bindings/);
  assert.ok(await page.locator("text=workflow").count() > 0);
  const runs = await (await fetch(`${ui.origin}/api/runs`)).json();
  assert.deepEqual(runs.runs, []);
  assert.deepEqual(b.errors, []);
});

Deno.test("bound to another address, every request needs the token (?token= or Bearer), the event streams too", async () => {
  await using tmp = await tempDir();
  await using ui = await startUi(["--store", `sqlite:${tmp.dir}/weft.db`, "--host", "0.0.0.0"]);
  const token = new URL(ui.url).searchParams.get("token");
  assert.ok(token !== null && token.length >= 32, ui.url);
  // 0.0.0.0 answers on the loopback address too; the rule is the binding's.
  const base = `http://127.0.0.1:${new URL(ui.url).port}`;
  for (const path of ["/", "/api/runs", "/api/events", "/assets/app.js", "/runs/x"]) {
    const bare: Response = await fetch(`${base}${path}`);
    await bare.body?.cancel();
    assert.equal(bare.status, 401, `${path} without a token`);
    const wrong: Response = await fetch(
      `${base}${path}${path.includes("?") ? "&" : "?"}token=${token}x`,
    );
    await wrong.body?.cancel();
    assert.equal(wrong.status, 401, `${path} with a wrong token`);
  }
  const byQuery = await fetch(`${base}/api/runs?token=${token}`);
  assert.equal(byQuery.status, 200);
  await byQuery.body?.cancel();
  const byHeader = await fetch(`${base}/api/runs`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(byHeader.status, 200);
  await byHeader.body?.cancel();
  const stream = await fetch(`${base}/api/events?token=${token}`);
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get("content-type") ?? "", /text\/event-stream/);
  await stream.body?.cancel();
  // The page, its modules and its event streams work in a browser with the printed URL.
  await using b = await browser();
  await b.page.goto(`${base}/?token=${token}`);
  await b.page.locator("table.runs").waitFor();
  assert.deepEqual(b.errors, []);
  // And from another machine's point of view: the machine's own non-loopback address.
  const other = Deno.networkInterfaces().find((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.")
  );
  if (other !== undefined) {
    const page2 = await b.context.newPage();
    const denied = await page2.goto(`http://${other.address}:${new URL(ui.url).port}/`);
    assert.equal(denied?.status(), 401);
    const allowed = await page2.goto(
      `http://${other.address}:${new URL(ui.url).port}/?token=${token}`,
    );
    assert.equal(allowed?.status(), 200);
    await page2.locator("table.runs").waitFor();
  }
});

Deno.test("on 127.0.0.1 without a token, requests naming another host and cross-site posts are refused", async () => {
  await using tmp = await tempDir();
  await using ui = await startUi(["--store", `sqlite:${tmp.dir}/weft.db`]);
  assert.doesNotMatch(ui.url, /token=/);
  const ok = await fetch(`${ui.origin}/api/info`);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  // fetch() keeps the Host it connects to: a page rebound by DNS sends its own.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(ui.url).port) });
  await conn.write(
    new TextEncoder().encode(
      "GET /api/info HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    ),
  );
  let reply = "";
  const buf = new Uint8Array(4096);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    reply += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  assert.match(reply, /^HTTP\/1\.1 403/);
  const post = await fetch(`${ui.origin}/api/runs/x/resume`, {
    method: "POST",
    headers: { origin: "http://evil.example" },
  });
  assert.equal(post.status, 403);
  await post.body?.cancel();
});

Deno.test("weft run --ui starts the web UI (or reuses it) and prints the run's page", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  const first = await deno(["run", "-A", "cli.ts", ...stepsRun(3, 1, store, "--ui")]);
  const record = JSON.parse(await Deno.readTextFile(`${tmp.dir}/ui.json`)) as {
    pid: number;
    url: string;
  };
  try {
    assert.equal(first.code, 0, first.stderr);
    const m = /weft: watch it at (http:\/\/127\.0\.0\.1:\d+\/runs\/([\w.:-]+))/.exec(first.stderr);
    assert.ok(m !== null, first.stderr);
    assert.equal((await Deno.stat(`${tmp.dir}/ui.json`)).mode! & 0o777, 0o600);
    const page = await fetch(m[1]!);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const run = await (await fetch(new URL(`/api/runs/${m[2]}`, m[1]!))).json();
    assert.equal(run.status, "succeeded");
    const again = await deno([
      "run",
      "-A",
      "cli.ts",
      "run",
      FLOWS,
      "steps",
      "--input",
      "n=1",
      "--store",
      store,
      "--ui",
      "--run-id",
      "second",
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stderr.includes(`${new URL(m[1]!).origin}/runs/second`), again.stderr);
  } finally {
    Deno.kill(record.pid, "SIGTERM");
    await until("the background UI to stop", async () => {
      try {
        await Deno.stat(`${tmp.dir}/ui.json`);
        return undefined;
      } catch {
        return true;
      }
    });
  }
});

Deno.test("a run of thousands of nodes draws repeated calls as one box that lists its members", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using run = startWeft([
    "run",
    FLOWS,
    "many",
    "--input",
    "n=2500",
    "--run-id",
    "m1",
    "--store",
    store,
  ]);
  assert.equal((await run.result()).code, 0);
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;
  await page.goto(`${ui.origin}/runs/m1`);
  const group = page.locator('[data-group="inc"]');
  await group.waitFor();
  assert.equal(await group.getAttribute("data-size"), "2500");
  assert.equal(await group.getAttribute("data-state"), "succeeded");
  assert.equal(
    await page.locator('[data-node-id="total"]').getAttribute("data-state"),
    "succeeded",
  );
  assert.ok(await page.locator(".node").count() < 10, "a few boxes, not thousands");
  await group.click();
  const panel = page.locator('[data-panel="group"]');
  await panel.locator("[data-member-id]").nth(199).waitFor();
  await panel.locator("button:has-text('more')").click();
  await panel.locator("[data-member-id]").nth(399).waitFor();
  await panel.locator('[data-member-id="inc_8"]').click();
  await page.locator('[data-panel="node"] [data-io="output:o0"] pre').waitFor();
  assert.equal(
    await page.locator('[data-panel="node"] [data-io="output:o0"] pre').textContent(),
    "8",
  );
  assert.deepEqual(b.errors, []);
});

Deno.test("cancel a running run from its page, then resume it from the page", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;
  // The page is open before the run starts, so that it sees the slow step run.
  await page.goto(`${ui.origin}/runs/c1`);
  await page.locator("[data-waiting]").waitFor();
  await using run = startWeft([
    "run",
    FLOWS,
    "slow",
    "--input",
    "ms=4000",
    "--run-id",
    "c1",
    "--store",
    store,
  ]);
  await page.locator('[data-node-id="sleepy_3"][data-state="running"]').waitFor({
    timeout: 30_000,
  });
  await page.locator('[data-action="cancel"]').click();
  // Asked first, in the page.
  await page.locator("dialog[data-confirm] [data-confirm-yes]").click();
  await page.locator(".run-head .badge.cancelled").waitFor();
  assert.equal(
    await page.locator('[data-node-id="sleepy_3"]').getAttribute("data-state"),
    "cancelled",
  );
  assert.equal((await run.result()).code, 130);
  await page.locator('[data-action="resume"]').click();
  await page.locator("dialog[data-confirm] [data-confirm-yes]").click();
  await page.locator(".run-head .badge.succeeded").waitFor({ timeout: 30_000 });
  assert.equal(
    await page.locator('[data-node-id="sleepy_3"]').getAttribute("data-state"),
    "succeeded",
  );
  assert.equal(
    await page.locator('[data-node-id="sleepy"]').getAttribute("data-state"),
    "succeeded",
  );
  assert.deepEqual(b.dialogs, []);
  assert.deepEqual(b.errors, []);
});

Deno.test("re-run from the page starts a new run of the same script, entity and inputs", async () => {
  await using tmp = await tempDir();
  const store = `sqlite:${tmp.dir}/weft.db`;
  await using run = startWeft(stepsRun(3, 1, store, "--run-id", "r1"));
  assert.equal((await run.result()).code, 0);
  await using ui = await startUi(["--store", store]);
  await using b = await browser();
  const { page } = b;
  await page.goto(`${ui.origin}/runs/r1`);
  await page.locator('[data-action="rerun"]').click();
  // Keeping it does nothing.
  await page.locator("dialog[data-confirm] button.secondary").click();
  assert.equal(new URL(page.url()).pathname, "/runs/r1");
  await page.locator('[data-action="rerun"]').click();
  await page.locator("dialog[data-confirm] [data-confirm-yes]").click();
  await until(
    "the page of the new run",
    () => new URL(page.url()).pathname !== "/runs/r1" || undefined,
  );
  const fresh = decodeURIComponent(new URL(page.url()).pathname.slice("/runs/".length));
  await page.locator(".run-head .badge.succeeded").waitFor({ timeout: 30_000 });
  // The run's status and its nodes reach the page by separate updates: wait for the nodes too.
  await until(
    "the new run's three nodes",
    async () => (await page.locator("[data-node-id]").count()) === 3 || undefined,
  );
  const record = await (await fetch(`${ui.origin}/api/runs/${fresh}`)).json();
  assert.equal(record.entity, "steps");
  assert.equal(record.inputs.text, "{ n: 3, delay: 1 }");
  assert.deepEqual(b.errors, []);
});
