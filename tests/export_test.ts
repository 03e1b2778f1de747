// The drawn exports, checked by the real consumers: Graphviz's `dot`, Mermaid's
// own parser and renderer, and headless Chromium for the HTML page.

import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { callNodes, renderDag } from "../ir.ts";
import type { DagDocument } from "../mod.ts";
import { loadScript } from "../src/cli/load.ts";
import { viewsOf } from "../src/render/view.ts";
import { skeletonGraph } from "../src/render/skeleton_view.ts";
import { dotString } from "../src/render/dot.ts";
import { mermaidString } from "../src/render/mermaid.ts";
import { escapeHtml, scriptJson } from "../src/render/html.ts";
import { deno, ROOT, runCommand, tempDir } from "./_helpers.ts";
import { chromiumContext } from "./_ui_helpers.ts";

const XSS = "<img src=x onerror=alert(1)>";
const QUOTED = 'say "hi" \\ | # & `tick`';

/** Every example, and the fixture that uses every part of the IR. */
async function scripts(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/examples`)) {
    // The workflow document has every control construct: a map, a condition, an ordering edge, onFailure.
    if (e.isFile && /\.(ts|yaml)$/.test(e.name)) out.push(`examples/${e.name}`);
  }
  return [...out.sort(), "tests/_dag_fixture.ts"];
}

const documents = new Map<string, DagDocument>();
async function compiled(script: string): Promise<DagDocument> {
  let dag = documents.get(script);
  if (dag === undefined) {
    dag = (await loadScript(new URL(`file://${ROOT}/${script}`))).dag;
    documents.set(script, dag);
  }
  return dag;
}

/** The text elements of an SVG, decoded. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1]!.replace(
      /&(lt|gt|quot|apos|amp|#\d+);/g,
      (_, e: string) =>
        e === "lt"
          ? "<"
          : e === "gt"
          ? ">"
          : e === "quot"
          ? '"'
          : e === "apos"
          ? "'"
          : e === "amp"
          ? "&"
          : String.fromCharCode(Number(e.slice(1))),
    )
  );
}

function boxCount(dag: DagDocument): number {
  return viewsOf(dag).reduce((n, v) => n + v.boxes.length, 0);
}

/** The boxes and groups the flows' skeletons add to a drawing. */
function skeletonCount(dag: DagDocument): { boxes: number; groups: number; sections: number } {
  const graphs = dag.workflows.flatMap((w) => skeletonGraph(dag, w.name) ?? []);
  return {
    boxes: graphs.reduce((n, g) => n + g.boxes.length, 0),
    groups: graphs.reduce((n, g) => n + g.groups.length, 0),
    sections: graphs.length,
  };
}

const browser = () => chromiumContext({ width: 1280, height: 760 });

Deno.test("DOT of every example renders with the real dot -Tsvg, one SVG node per box", async () => {
  for (const script of await scripts()) {
    const dag = await compiled(script);
    const dot = await renderDag(dag, "dot", { title: script });
    const out = await runCommand("dot", ["-Tsvg"], { stdin: dot });
    assert.equal(out.code, 0, `${script}: ${out.stderr}`);
    const warnings = out.stderr.split("\n").filter((l) =>
      l.trim() !== "" && !/fontconfig/i.test(l)
    );
    assert.deepEqual(warnings, [], `${script}: dot warned`);
    const nodes = out.stdout.match(/<g id="node\d+" class="node">/g) ?? [];
    const skeleton = skeletonCount(dag);
    assert.equal(nodes.length, boxCount(dag) + skeleton.boxes, script);
    const clusters = out.stdout.match(/<g id="clust\d+" class="cluster">/g) ?? [];
    assert.equal(clusters.length, dag.workflows.length + skeleton.groups, script);
    const texts = svgTexts(out.stdout);
    for (const task of dag.tasks) {
      if (
        !dag.workflows.some((w) =>
          w.kind === "static" && callNodes(w.nodes).some((n) => n.entity.name === task.name)
        )
      ) continue;
      assert.ok(
        texts.some((t) => t === `task ${task.name}` || t.startsWith(`map task ${task.name} over `)),
        `${script}: task ${task.name} is drawn`,
      );
    }
  }
});

Deno.test("DOT labels edges output → input and gives inputs and outputs their own shapes", async () => {
  const dot = await renderDag(await compiled("examples/regression.ts"), "dot");
  assert.match(dot, /w1_n0 -> w1_n1 \[label="o0 → slope"\];/);
  assert.match(dot, /w1_in0 \[label="x\\nnumber\[\]".*shape=cds/);
  assert.match(dot, /w1_out0 \[label="o0\\noutput".*shape=ellipse/);
  assert.match(dot, /w1_n0 \[label="slope\\ntask slope".*shape=box/);
});

Deno.test("dotString escapes backslashes, quotes and line breaks", () => {
  assert.equal(dotString('a "b" \\n\nc'), '"a \\"b\\" \\\\n\\nc"');
});

Deno.test("Mermaid output has a subgraph per workflow, generated ids and quoted, escaped labels", async () => {
  const dag = await compiled("tests/_dag_fixture.ts");
  const text = await renderDag(dag, "mermaid");
  assert.match(text, /^flowchart LR$/m);
  assert.equal((text.match(/^ {2}subgraph w\d+\["/gm) ?? []).length, dag.workflows.length);
  assert.equal((text.match(/^ {2}end$/gm) ?? []).length, dag.workflows.length);
  // No user text outside a quoted label: every raw < > " of the names is an entity code.
  assert.ok(!text.includes(XSS));
  assert.ok(text.includes("#lt;img src=x onerror=alert(1)#gt;"));
  assert.ok(text.includes("say #quot;hi#quot; \\ #124; #35; #amp; #96;tick#96;"));
  for (const line of text.split("\n")) {
    const unquoted = line.replace(/"[^"]*"/g, '""');
    assert.ok(!/[<>`]/.test(unquoted.replace(/-->|-\.->|==>/g, "")), `unquoted markup in: ${line}`);
  }
  assert.equal(mermaidString("a\nb"), '"a<br>b"');
});

Deno.test("Mermaid output of every example parses and renders with Mermaid itself", async () => {
  // Mermaid needs a DOM, so it runs in headless Chromium, from its npm package.
  const info = JSON.parse((await deno(["info", "--json"], { cwd: "/tmp" })).stdout);
  await using tmp = await tempDir();
  const cached = await deno(
    ["cache", "--no-config", "--no-lock", "npm:mermaid@11.12.1"],
    { cwd: tmp.dir },
  );
  assert.equal(cached.code, 0, cached.stderr);
  const bundle = await Deno.readTextFile(
    `${info.npmCache}/registry.npmjs.org/mermaid/11.12.1/dist/mermaid.min.js`,
  );
  await using b = await browser();
  const page = await b.context.newPage();
  await page.setContent("<!doctype html><html><body></body></html>");
  await page.addScriptTag({ content: bundle });
  await page.evaluate(() =>
    (globalThis as unknown as { mermaid: { initialize(o: object): void } }).mermaid.initialize({
      startOnLoad: false,
    })
  );
  for (const script of await scripts()) {
    const dag = await compiled(script);
    const text = await renderDag(dag, "mermaid");
    const result = await page.evaluate(async (source: string) => {
      const m = (globalThis as unknown as {
        mermaid: {
          parse(t: string): Promise<unknown>;
          render(id: string, t: string): Promise<{ svg: string }>;
        };
      }).mermaid;
      try {
        await m.parse(source);
        const { svg } = await m.render(`g${Math.random().toString(36).slice(2)}`, source);
        // Runs in the page, where the DOM exists (Deno's types do not have it).
        const dom = (globalThis as unknown as {
          document: {
            createElement(tag: string): {
              innerHTML: string;
              textContent: string | null;
              querySelectorAll(selector: string): { length: number };
            };
          };
        }).document;
        const holder = dom.createElement("div");
        holder.innerHTML = svg;
        return {
          ok: true,
          nodes: holder.querySelectorAll("g.node").length,
          clusters: holder.querySelectorAll("g.cluster").length,
          text: holder.textContent ?? "",
          images: holder.querySelectorAll("img").length,
        };
      } catch (e) {
        return { ok: false, error: String((e as Error).message ?? e) };
      }
    }, text);
    assert.ok(result.ok, `${script}: ${"error" in result ? result.error : ""}\n${text}`);
    const skeleton = skeletonCount(dag);
    assert.equal(result.nodes, boxCount(dag) + skeleton.boxes, script);
    assert.equal(result.clusters, dag.workflows.length + skeleton.groups, script);
    if (script === "tests/_dag_fixture.ts") {
      assert.ok(result.text?.includes(XSS), "the hostile name is shown as text");
      assert.ok(result.text?.includes(QUOTED), "quotes, pipes and hashes survive");
      assert.equal(result.images, 0);
    }
  }
});

Deno.test("scriptJson and escapeHtml leave nothing that can close a tag or a script", () => {
  const data = { name: "</script><!-- & \u2028" };
  const json = scriptJson(data);
  assert.ok(!/[<>&\u2028]/.test(json));
  assert.deepEqual(JSON.parse(json), data);
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    "&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;",
  );
});

Deno.test("the HTML page opens offline in Chromium, draws every node and shows details on hover and click", async () => {
  await using tmp = await tempDir();
  await using b = await browser();
  for (const script of await scripts()) {
    const dag = await compiled(script);
    const file = `${tmp.dir}/${script.replace(/\W/g, "_")}.html`;
    await Deno.writeTextFile(file, await renderDag(dag, "html", { title: script }));
    const page = await b.context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    assert.deepEqual(requests, [`file://${file}`], `${script}: the page fetches nothing else`);
    assert.deepEqual(errors, [], script);
    const nodes = page.locator("svg#weft-graph g.node:not(.sk)");
    assert.equal(await nodes.count(), boxCount(dag), script);
    const skeleton = skeletonCount(dag);
    assert.equal(await page.locator("svg#weft-graph g.node.sk").count(), skeleton.boxes, script);
    assert.equal(await page.locator("svg#weft-graph g.zone").count(), skeleton.groups, script);
    for (let i = 0; i < await nodes.count(); i++) {
      const box = await nodes.nth(i).boundingBox();
      assert.ok(box !== null && box.width > 10 && box.height > 10, `${script}: node ${i} is drawn`);
    }
    assert.equal(
      await page.locator("svg#weft-graph g.workflow-group").count(),
      dag.workflows.length + skeletonCount(dag).sections,
      script,
    );
    const edges = viewsOf(dag).reduce((n, v) => n + v.arrows.length, 0);
    assert.equal(await page.locator("svg#weft-graph path.edge").count(), edges, script);
    await page.close();
  }

  const page = await b.context.newPage();
  const file = `${tmp.dir}/fixture.html`;
  await Deno.writeTextFile(file, await renderDag(await compiled("tests/_dag_fixture.ts"), "html"));
  await page.goto(`file://${file}`);
  const details = page.locator("#weft-details");
  // Hover: the panel follows the pointer.
  const scale = page.locator("g.node.task", { hasText: "task scale" });
  await scale.hover();
  assert.equal(await details.locator("h2").textContent(), "scale");
  const text = await details.textContent();
  assert.match(text!, /Bindings/i);
  assert.match(text!, /factor3/);
  assert.match(text!, /valuesinput values/);
  assert.match(text!, /read\.\/data/);
  // Click: the panel keeps the node while the pointer moves over others.
  const describe = page.locator("g.node.task", { hasText: "task describe" });
  await describe.click();
  assert.equal(await details.locator("h2").textContent(), "describe");
  assert.match(
    (await details.textContent())!,
    /retries2 \(first after 50 ms, then ×2 up to 30000 ms\)/,
  );
  assert.match((await details.textContent())!, /timeout5000 ms/);
  assert.match((await details.textContent())!, /cacheyes \(version 1\)/);
  assert.match(
    (await details.textContent())!,
    /summary\{ total: total\.o0, range: \[stats\.min, stats\.max\] \}/,
  );
  await scale.hover();
  await page.mouse.move(1, 1);
  assert.equal(await details.locator("h2").textContent(), "describe");
  assert.equal(await page.locator("g.node.selected").count(), 1);
  // A flow's box lists what it may call, with their permissions.
  await page.locator("g.node.flow", { hasText: "may call: fetchText" }).click();
  assert.match((await details.textContent())!, /net: example\.com:443/);
});

Deno.test("the HTML page shows a task named <img src=x onerror=alert(1)> as text and no dialog fires", async () => {
  await using tmp = await tempDir();
  await using b = await browser();
  const dag = await compiled("tests/_dag_fixture.ts");
  const html = await renderDag(dag, "html", { title: XSS });
  assert.ok(!html.includes(XSS), "the raw name never reaches the markup");
  assert.ok(!html.includes("</script><script>alert(2)"), "nor can a name close the data script");
  const file = `${tmp.dir}/xss.html`;
  await Deno.writeTextFile(file, html);
  const page = await b.context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  await page.goto(`file://${file}`);
  const node = page.locator("g.node.task").filter({ hasText: XSS }).first();
  assert.equal(await node.locator("tspan.title").textContent(), XSS);
  await node.hover();
  await node.click();
  assert.equal(await page.locator("#weft-details h2").textContent(), XSS);
  assert.ok(
    (await page.locator("text.workflow-title").allTextContents()).includes(
      "workflow xss</script><script>alert(2)</script>",
    ),
  );
  assert.equal(await page.locator("img").count(), 0);
  assert.equal(await page.locator("script").count(), 2, "only the page's own two scripts");
  assert.equal(await page.title(), `${XSS} · weft`);
  await page.waitForTimeout(200);
  assert.deepEqual(dialogs, []);
});

Deno.test("the HTML export of the regression workflow is screenshotted to docs/regression.png", async () => {
  const out = await deno([
    "run",
    "-A",
    "cli.ts",
    "compile",
    "examples/regression.ts",
    "--workflow",
    "regression",
    "--format",
    "html",
  ]);
  assert.equal(out.code, 0, out.stderr);
  await using tmp = await tempDir();
  const file = `${tmp.dir}/regression.html`;
  await Deno.writeTextFile(file, out.stdout);
  await using b = await browser();
  const page = await b.context.newPage();
  await page.setViewportSize({ width: 1180, height: 600 });
  await page.goto(`file://${file}`);
  assert.equal(await page.locator("g.node").count(), 5);
  await page.locator("g.node.task", { hasText: "task intercept" }).click();
  await page.mouse.move(0, 0);
  await page.evaluate("new Promise((resolve) => requestAnimationFrame(resolve))");
  const png = new Uint8Array(
    await page.screenshot({ fullPage: true, animations: "disabled", caret: "hide" }),
  );
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  // Chromium compresses the same pixels differently from run to run, and
  // antialiases a few edge pixels a shade differently: rewrite the picture only
  // when it really changed, so that running the tests leaves git clean.
  const path = `${ROOT}/docs/regression.png`;
  const old = await Deno.readFile(path).catch(() => undefined);
  if (old === undefined || !similar(pixels(old), pixels(png))) {
    await Deno.mkdir(`${ROOT}/docs`, { recursive: true });
    await Deno.writeFile(path, png);
  }
});

/** A PNG's image data, decompressed: equal pixels give equal bytes. */
function pixels(png: Uint8Array): Uint8Array {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const parts: Uint8Array[] = [];
  for (let i = 8; i + 8 <= png.length;) {
    const length = view.getUint32(i);
    const type = new TextDecoder().decode(png.subarray(i + 4, i + 8));
    if (type === "IHDR" || type === "IDAT") parts.push(png.subarray(i + 8, i + 8 + length));
    i += 12 + length;
  }
  const [header, ...data] = parts;
  const joined = new Uint8Array(data.reduce((n, p) => n + p.length, 0));
  data.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
  return new Uint8Array([...(header ?? []), ...inflateSync(joined)]);
}

/** Same size, and at most 0.2% of the (filtered) image bytes differ. */
function similar(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let differing = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++;
  return differing <= a.length / 500;
}

Deno.test("the HTML page draws a flow's skeleton as nested zones, with the condition and line on hover", async () => {
  await using tmp = await tempDir();
  await using b = await browser();
  const file = `${tmp.dir}/aiida.html`;
  await Deno.writeTextFile(
    file,
    await renderDag(await compiled("examples/aiida_flows.ts"), "html"),
  );
  const page = await b.context.newPage();
  await page.goto(`file://${file}`);
  const section = page.locator('g.skeleton-section[data-flow="keepDoubling"]');
  const loop = section.locator("g.zone.loop");
  assert.equal(await loop.count(), 1);
  assert.equal(
    await loop.locator("title").textContent(),
    "while ((yield* wait(out)) < 10) · line 43 · carries out",
  );
  assert.equal(await loop.getAttribute("data-line"), "43");
  // The loop's calls are inside its zone.
  const zone = (await loop.locator("rect").boundingBox())!;
  for (const name of ["add", "multiply"]) {
    const call = section.locator("g.node.sk.call", { hasText: name }).last();
    const box = (await call.boundingBox())!;
    assert.ok(
      box.y > zone.y && box.y + box.height < zone.y + zone.height,
      `${name} is in the loop`,
    );
  }
  // The back edge is labelled by the condition.
  assert.equal(await section.locator("text.sk-edge-label.back").textContent(), "wait(out) < 10");
  // A branch: a diamond, then and else arms.
  const branch = page.locator('g.skeleton-section[data-flow="addMultiplyIf"]');
  assert.equal(await branch.locator("g.node.sk.branch").count(), 1);
  assert.equal(await branch.locator("g.zone.then").count(), 1);
  assert.equal(await branch.locator("g.zone.else").count(), 1);
  // Hovering a skeleton box shows its details.
  await section.locator("g.node.sk.call", { hasText: "multiply" }).hover();
  const details = (await page.locator("#weft-details").textContent())!;
  assert.match(details, /line44/);
  assert.match(details, /takes handles ofc2/);
});

Deno.test("the HTML export of examples/aiida_flows.ts, with its flows' loop and branch, is screenshotted to docs/skeleton.png", async () => {
  await using tmp = await tempDir();
  await using b = await browser();
  const file = `${tmp.dir}/aiida.html`;
  await Deno.writeTextFile(
    file,
    await renderDag(await compiled("examples/aiida_flows.ts"), "html"),
  );
  const page = await b.context.newPage();
  await page.setViewportSize({ width: 1180, height: 600 });
  await page.goto(`file://${file}`);
  // What the picture must show: keepDoubling's loop and addMultiplyIf's branch.
  const loop = page.locator('g.skeleton-section[data-flow="keepDoubling"] g.zone.loop');
  assert.equal(await loop.count(), 1);
  const branch = page.locator('g.skeleton-section[data-flow="addMultiplyIf"] g.node.sk.branch');
  assert.equal(await branch.count(), 1);
  await page.mouse.move(0, 0);
  await page.evaluate("new Promise((resolve) => requestAnimationFrame(resolve))");
  const png = new Uint8Array(
    await page.screenshot({ fullPage: true, animations: "disabled", caret: "hide" }),
  );
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  // Rewritten only when it really changed (see the regression picture above).
  const path = `${ROOT}/docs/skeleton.png`;
  const old = await Deno.readFile(path).catch(() => undefined);
  if (old === undefined || !similar(pixels(old), pixels(png))) {
    await Deno.mkdir(`${ROOT}/docs`, { recursive: true });
    await Deno.writeFile(path, png);
  }
});
