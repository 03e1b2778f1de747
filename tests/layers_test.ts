// The shape of src/: folders by layer, imports that only point down (or
// sideways inside a folder), no import cycle, no file over 600 lines, and a
// light `import "@weft/weft"`. Read from the code itself, so that it cannot
// drift from it.
import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

/** The layers of src/, bottom to top: a file may import from its own layer or one below. */
const LAYERS = ["core", "define", "store", "ir", "engine", "render", "ui", "cli"];

/** Files allowed over the line limit, each with the reason (none today). */
const LONG_FILES: Record<string, string> = {};
const MAX_LINES = 600;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

const IMPORT =
  /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']/g;
const DYNAMIC = /\bimport\(\s*["'](\.[^"']+)["']\s*\)/g;

/** Every relative import of a file (static, type-only and literal dynamic ones), resolved. */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(file)
    // Leave out comments and template strings, which quote code as text.
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "")
    .replace(/`(?:\\.|[^`\\])*`/g, "``")
    // and strings that quote an import in a message.
    .replace(/'[^'\n]*\bimport\([^'\n]*'|"[^"\n]*\bimport\([^"\n]*"/g, '""');
  const found = new Set<string>();
  for (const re of [IMPORT, DYNAMIC]) {
    for (const m of text.matchAll(re)) {
      const spec = m[1]!;
      if (!spec.startsWith(".")) continue;
      found.add(new URL(spec, `file://${file}`).pathname);
    }
  }
  return [...found];
}

function layerOf(file: string): number {
  const rel = file.slice(`${ROOT}/src/`.length);
  const layer = LAYERS.indexOf(rel.split("/")[0]!);
  assert.ok(layer >= 0, `${rel} is in no layer folder of src/ (${LAYERS.join(", ")})`);
  return layer;
}

const files = sourceFiles(`${ROOT}/src`);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => i.startsWith(`${ROOT}/`))]));
const rel = (f: string) => f.slice(ROOT.length + 1);

Deno.test("every file of src/ is in a layer folder, and imports only point down or sideways", () => {
  const up: string[] = [];
  for (const [file, imports] of graph) {
    for (const target of imports) {
      assert.ok(
        target.startsWith(`${ROOT}/src/`),
        `${rel(file)} imports ${rel(target)}, outside src/`,
      );
      if (layerOf(target) > layerOf(file)) up.push(`${rel(file)} -> ${rel(target)}`);
    }
  }
  assert.deepEqual(up, [], `imports that point up a layer:\n${up.join("\n")}`);
});

Deno.test("src/ has no import cycle (type-only and dynamic imports count)", () => {
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(rel(w));
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component);
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.map((c) => c.join(" <-> ")).join("\n")}`);
});

Deno.test(`no file of src/ is over ${MAX_LINES} lines`, () => {
  const long: string[] = [];
  for (const file of files) {
    const lines = Deno.readTextFileSync(file).split("\n").length;
    if (lines > MAX_LINES && !(rel(file) in LONG_FILES)) long.push(`${rel(file)}: ${lines} lines`);
  }
  assert.deepEqual(long, [], `split these files along their seams:\n${long.join("\n")}`);
});

/** The modules a module loads when imported: its static graph, without dynamic imports. */
async function staticGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const walk = (specifier: string): void => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.isDynamic || dep.code === undefined) continue;
      walk(dep.code.specifier);
    }
  };
  for (const root of info.roots) walk(root);
  return seen;
}

Deno.test('import "@weft/weft" loads no node:sqlite, no node:crypto and no npm package', async () => {
  const loaded = await staticGraph("mod.ts");
  const heavy = [...loaded].filter((s) =>
    s === "node:sqlite" || s === "node:crypto" || s.startsWith("npm:")
  );
  assert.deepEqual(heavy, []);
  // (And the check can fail: the SQLite face does load node:sqlite.)
  assert.ok((await staticGraph("sqlite.ts")).has("node:sqlite"));
});
