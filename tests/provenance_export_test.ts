// `weft export`: the provenance graph of a run as JSON, DOT (rendered by the
// real Graphviz) and HTML (opened in headless Chromium).

import assert from "node:assert/strict";
import { flow, run, task, wait } from "../mod.ts";
import { SqliteStore } from "../src/store/sqlite/mod.ts";
import { provenanceDot, provenanceGraph, provenanceHtml } from "../src/render/provenance.ts";
import { runCommand, tempDir } from "./_helpers.ts";
import { chromiumContext } from "./_ui_helpers.ts";

const XSS = "<img src=x onerror=alert(1)>";

async function recordedRun(dir: string) {
  const store = SqliteStore.open(`${dir}/weft.db`);
  const split = task(function split(text: string) {
    return text.split(" ");
  });
  const shout = task({ name: XSS }, function shout(word: string) {
    return word.toUpperCase();
  });
  const join = task(function join(words: string[]) {
    return words.join("-");
  });
  const f = flow(async function* prov(text: string) {
    const words = yield* wait(split(text));
    return join(words.map((w) => shout(w)));
  });
  const result = await run(f, { text: "a b c" }, { store, runId: "prov-1" });
  assert.equal(result.outputs, "A-B-C");
  const details = (await store.getRun("prov-1"))!;
  return { store, details };
}

Deno.test("the provenance graph links values and executions, and assembled inputs to their parts", async () => {
  await using tmp = await tempDir();
  const { store, details } = await recordedRun(tmp.dir);
  const g = await provenanceGraph(store, details);
  assert.equal(g.format, "weft.provenance/v1");
  assert.deepEqual(g.executions.map((e) => e.id), ["split", XSS, `${XSS}_2`, `${XSS}_3`, "join"]);
  const hashes = new Set(g.values.map((v) => v.hash));
  for (const e of g.edges) {
    if (e.kind === "input") assert.ok(hashes.has(e.from));
    if (e.kind === "output") assert.ok(hashes.has(e.to));
  }
  const parts = g.edges.filter((e) => e.kind === "part");
  assert.equal(parts.length, 3, "join's input is assembled from the three shout outputs");
  const joined = g.edges.find((e) => e.kind === "input" && e.to === "join")!;
  assert.ok(parts.every((p) => p.to === joined.from));
  assert.deepEqual(
    g.values.find((v) => v.hash === joined.from)!.preview,
    '["A","B","C"]',
  );
  store.close();
});

Deno.test("the provenance DOT renders with Graphviz: one node per execution and value", async () => {
  await using tmp = await tempDir();
  const { store, details } = await recordedRun(tmp.dir);
  const g = await provenanceGraph(store, details);
  const out = await runCommand("dot", ["-Tsvg"], { stdin: provenanceDot(g) });
  assert.equal(out.code, 0, out.stderr);
  const nodes = out.stdout.match(/<g id="node\d+" class="node">/g) ?? [];
  assert.equal(nodes.length, g.executions.length + g.values.length);
  assert.match(out.stdout, /&lt;img src=x onerror=alert\(1\)&gt;/);
  store.close();
});

Deno.test("the provenance HTML page draws every execution and value, offline, with details and no injected markup", async () => {
  await using tmp = await tempDir();
  const { store, details } = await recordedRun(tmp.dir);
  const g = await provenanceGraph(store, details);
  const html = await provenanceHtml(g);
  await Deno.writeTextFile(`${tmp.dir}/prov.html`, html);
  store.close();
  await using b = await chromiumContext({ width: 1280, height: 720 });
  const context = b.context;
  {
    const page = await context.newPage();
    const requests: string[] = [];
    let dialogs = 0;
    page.on("request", (r) => requests.push(r.url()));
    page.on("dialog", (d) => {
      dialogs++;
      d.dismiss();
    });
    await page.goto(`file://${tmp.dir}/prov.html`);
    assert.equal(await page.locator("g.node").count(), g.executions.length + g.values.length);
    assert.equal(await page.locator("img").count(), 0);
    const xssNode = page.locator("g.node", { hasText: XSS }).first();
    await xssNode.hover();
    const panel = await page.locator("#weft-details").innerText();
    assert.match(panel, /EXECUTION|Execution/);
    assert.ok(panel.includes(XSS), panel);
    assert.equal(dialogs, 0);
    assert.deepEqual(requests.filter((u) => !u.startsWith("file://")), []);
  }
});
