/**
 * Workflow specs on the command line: `weft run pipeline.yaml` and `weft
 * compile pipeline.yaml` take a `weft.workflow/v1` document (YAML or JSON)
 * where they take a script. This process reads and checks the document
 * (each mistake one line with its line number), then turns it into a small
 * module — a data: URL, so that nothing is written to disk — that imports
 * the modules the document names with literal specifiers (which the
 * children weft starts load with no read permission) and builds the
 * workflow with the `Workflow` builder. Everything that loads a script
 * loads that module instead; everything that shows or records the script
 * keeps the document's own path.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { parseWorkflowSpec, type SpecNode, type WorkflowSpec } from "../define/spec.ts";
import { specError } from "../define/spec_yaml.ts";

/**
 * Whether a script argument is a workflow spec (by its extension).
 *
 * @param url The script.
 * @returns True for `.yaml`, `.yml` and `.json`.
 */
export function isSpec(url: URL): boolean {
  return /\.(ya?ml|json)$/i.test(url.pathname);
}

/**
 * How messages name a local file: relative to the working directory when
 * it is below it.
 *
 * @param url The file.
 * @returns The name.
 */
export function shownName(url: URL): string {
  if (url.protocol !== "file:") return url.href;
  const path = decodeURIComponent(url.pathname);
  const cwd = Deno.cwd() + "/";
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}

const modules = new Map<string, Promise<string>>();

/**
 * The module to load for a script: the script itself, or for a spec the
 * module that builds its workflow (made once per process).
 *
 * @param url The script or spec.
 * @returns The module's URL.
 * @throws {ValidationError} On a mistake in the spec (`FILE:LINE: …`), or a module it names that does not exist.
 */
export function scriptModule(url: URL): Promise<string> {
  if (!isSpec(url)) return Promise.resolve(url.href);
  let made = modules.get(url.href);
  if (made === undefined) modules.set(url.href, made = specModule(url));
  return made;
}

async function specModule(url: URL): Promise<string> {
  if (url.protocol !== "file:") {
    throw new ValidationError(`${url.href}: a workflow spec must be a local file`);
  }
  const file = shownName(url);
  let text: string;
  try {
    text = Deno.readTextFileSync(url);
  } catch (e) {
    throw new ValidationError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  const spec = await parseWorkflowSpec(text, file);
  const imports = spec.modules.map((m) => resolveModule(m, url, spec));
  const build = new URL("../define/spec_build.ts", import.meta.url).href;
  const code = [
    `import { buildWorkflowSpec } from ${JSON.stringify(build)};`,
    ...imports.map((m, i) => `import * as m${i} from ${JSON.stringify(m)};`),
    `const spec = ${JSON.stringify(spec)};`,
    `const modules = { ${spec.modules.map((m, i) => `${JSON.stringify(m)}: m${i}`).join(", ")} };`,
    `const wf = buildWorkflowSpec(spec, modules, ${JSON.stringify(url.href)});`,
    `export { wf as ${JSON.stringify(spec.name)} };`,
  ].join("\n");
  const bytes = new TextEncoder().encode(code);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:application/typescript;base64,${btoa(binary)}`;
}

/**
 * The URL a spec's module specifier names: a path relative to the spec
 * (`./tasks.ts`), checked to exist; anything else (`jsr:`, `https:`, a
 * name the import map resolves) as written.
 */
function resolveModule(module: string, url: URL, spec: WorkflowSpec): string {
  if (!/^\.{0,2}\//.test(module) && !module.startsWith("file:")) return module;
  const resolved = new URL(module, url);
  try {
    if (Deno.statSync(resolved).isFile) return resolved.href;
  } catch {
    // reported below
  }
  throw specError(
    spec.file,
    lineOf(spec, module),
    `cannot find the module ${module} (${decodeURIComponent(resolved.pathname)})`,
  );
}

/** The line where a spec first names a module. */
function lineOf(spec: WorkflowSpec, module: string): number {
  const lines: number[] = [];
  const visit = (nodes: readonly SpecNode[]) => {
    for (const n of nodes) {
      if (n.kind === "call") {
        if (n.entity.module === module) lines.push(n.entity.line);
      } else {
        visit(n.then.nodes);
        visit(n.else?.nodes ?? []);
      }
    }
  };
  visit(spec.nodes);
  if (spec.onFailure?.module === module) lines.push(spec.onFailure.line);
  return lines.length === 0 ? spec.line : Math.min(...lines);
}
