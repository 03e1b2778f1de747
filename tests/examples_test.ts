// Every example runs as a single file with no permissions, from disk and by URL.

import assert from "node:assert/strict";
import { validateDag } from "../ir.ts";
import { deno, ROOT, serveDirectory } from "./_helpers.ts";

Deno.test("examples/regression.ts prints 3 with no permissions", async () => {
  const out = await deno(["run", "--no-prompt", "examples/regression.ts"]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), "3");
});

Deno.test("examples/aiida_flows.ts prints the seed outputs with no permissions", async () => {
  const out = await deno(["run", "--no-prompt", "examples/aiida_flows.ts"]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(
    out.stdout.trim(),
    [
      "addMultiply(3, 4, 1) = { sum: 7, product: 7 }",
      "addMultiplyIf(3, 4) = { sum: 7, multiply: -7 }",
      "keepDoubling(3, 4) = { sum: 16 }",
    ].join("\n"),
  );
});

Deno.test("an example importing mod.ts by http:// URL runs", async () => {
  const { server, url } = serveDirectory(ROOT);
  try {
    const host = new URL(url).host;
    const out = await deno([
      "run",
      "--no-prompt",
      `--allow-import=${host}`,
      "--reload",
      `${url}/examples/regression.ts`,
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), "3");
    // and a script elsewhere importing weft by URL
    const script = `import { task } from "${url}/mod.ts";\n` +
      `const add = task(function add(x: number, y: number) { return x + y; });\n` +
      `console.log(await add(40, 2));\n`;
    const piped = await deno(["run", "--no-prompt", `--allow-import=${host}`, "-"], {
      stdin: script,
      cwd: "/tmp",
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.trim(), "42");
  } finally {
    await server.shutdown();
  }
});

Deno.test("library code imports only node:, npm: and relative .ts modules", async () => {
  const files = ["mod.ts", "cli.ts"];
  for await (const entry of Deno.readDir(`${ROOT}/src`)) {
    if (entry.isFile && entry.name.endsWith(".ts")) files.push(`src/${entry.name}`);
  }
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(`${ROOT}/${file}`);
    } catch {
      continue;
    }
    for (
      const m of text.matchAll(
        /(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
      )
    ) {
      const spec = m[1] ?? m[2]!;
      const ok = spec.startsWith("node:") || /^npm:[@\w./-]+@\d/.test(spec) ||
        (/^\.\.?\//.test(spec) && spec.endsWith(".ts"));
      assert.ok(ok, `${file} imports ${spec}`);
    }
  }
});

Deno.test("examples/wordcount.ts runs under weft with exactly its declared read permission", async () => {
  const out = await deno([
    "run",
    "-A",
    "cli.ts",
    "run",
    "examples/wordcount.ts",
    "--input",
    "top=3",
    "--store",
    "memory",
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), {
    lines: 8,
    top: [{ word: "on", n: 5 }, { word: "the", n: 5 }, { word: "fog", n: 3 }],
  });
  assert.match(out.stderr, /weft: grant read\s+\S+\/examples\/data\s+← readText\n/);
  assert.doesNotMatch(out.stderr, /grant (write|net|env|run)/);
  // Without weft's grant the same script cannot read its data.
  const bare = await deno(["run", "--no-prompt", "examples/wordcount.ts"]);
  assert.notEqual(bare.code, 0);
  assert.match(bare.stderr, /Requires read access|NotCapable|refused read access/);
});

Deno.test("examples/pipeline.yaml compiles and runs under weft (a workflow spec naming ./pipeline_tasks.ts#…)", async () => {
  const compiled = await deno(["run", "-A", "cli.ts", "compile", "examples/pipeline.yaml"]);
  assert.equal(compiled.code, 0, compiled.stderr);
  const doc = JSON.parse(compiled.stdout);
  await validateDag(doc);
  const wf = doc.workflows[0];
  assert.equal(wf.name, "essays");
  assert.deepEqual(wf.source, { file: "pipeline.yaml", line: 6 });
  assert.deepEqual(wf.nodes.map((n: { id: string }) => n.id), [
    "score",
    "average",
    "verdict",
    "summary",
  ]);
  const input = ["--input", 'essays=["a b c d e f","a b"]', "--store", "memory"];
  for (const extra of [[], ["--no-isolate"]]) {
    const ran = await deno([
      "run",
      "-A",
      "cli.ts",
      "run",
      "examples/pipeline.yaml",
      ...input,
      ...extra,
    ]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(JSON.parse(ran.stdout), {
      mean: 40,
      summary: "2 essays: review: mean 40 is below 50",
    });
    assert.match(ran.stderr, /running workflow 'essays' from examples\/pipeline\.yaml/);
  }
});

Deno.test("the README shows examples/pipeline.yaml as it is", async () => {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const shown = /\[examples\/pipeline\.yaml\]\(examples\/pipeline\.yaml\):\n\n```yaml\n([^`]*)```/
    .exec(readme)?.[1];
  const file = await Deno.readTextFile(`${ROOT}/examples/pipeline.yaml`);
  assert.equal(file.replace(/^(#[^\n]*\n)+/, ""), shown);
});
