/**
 * The source text of a script's own modules, handed to the compile child so
 * that it can read its flows' skeletons: the child runs with no permissions
 * and cannot read a file, so the parent, which lists the module graph with
 * `deno info` anyway, passes along what it read. weft's own modules are left
 * out (they define no flow of the script's).
 *
 * @module
 */

import type { ModuleSources } from "./protocol.ts";

/** A module as `deno info --json` lists it (the fields used here). */
export interface InfoModuleSource {
  /** Its URL. */
  specifier: string;
  /** Where its text is on disk (a local file, or Deno's cache of a remote one). */
  local?: string;
  /** `TypeScript`, `JavaScript`, `Json`… */
  mediaType?: string;
  /** Its imports, with what each resolved to. */
  dependencies?: { specifier: string; code?: { specifier?: string } }[];
}

const WEFT_ROOT = new URL("../../", import.meta.url).href;
/** weft's own library modules: its entry points and everything under src/. */
const OWN = [`${WEFT_ROOT}mod.ts`, `${WEFT_ROOT}cli.ts`, `${WEFT_ROOT}src/`];
const CODE = /^(TypeScript|JavaScript|Mts|Mjs|Cts|Cjs|Tsx|Jsx|TSX|JSX)$/;

/**
 * Gathers the source of every module of a graph but weft's own.
 *
 * @param modules The graph's modules.
 * @param read Reads a module's text by its local path (undefined: unreadable).
 * @returns The sources by URL.
 */
export function moduleSources(
  modules: readonly InfoModuleSource[],
  read: (path: string) => string | undefined,
): ModuleSources {
  const out: ModuleSources = {};
  for (const m of modules) {
    if (m.local === undefined || OWN.some((own) => m.specifier.startsWith(own))) continue;
    if (m.mediaType !== undefined && !CODE.test(m.mediaType)) continue;
    if (!/^(file|https?):/.test(m.specifier)) continue;
    const text = read(m.local);
    if (text === undefined) continue;
    const imports: Record<string, string> = {};
    for (const d of m.dependencies ?? []) {
      if (d.code?.specifier !== undefined) imports[d.specifier] = d.code.specifier;
    }
    out[m.specifier] = { text, imports };
  }
  return out;
}

/**
 * Reads a file's text, or undefined.
 *
 * @param path The file.
 * @returns Its text.
 */
export function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}
