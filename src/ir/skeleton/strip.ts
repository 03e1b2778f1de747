/**
 * Stripping a module's TypeScript types for its flows' skeletons, with Deno's
 * own `stripTypeScriptTypes` (`node:module`, in Rust): it blanks types out so
 * that every position stays where it was; a module with syntax that cannot be
 * blanked (enums, decorators, parameter properties) is transformed instead,
 * with a source map back to its lines.
 *
 * `weft compile` strips in the parent, which loads `node:module` (Deno's Node
 * compatibility layer) while `deno info` lists the script's graph, and hands
 * the result to the compile child with the source: the child then never loads
 * `node:module`. A source without it is stripped where it is parsed.
 *
 * @module
 */

/** A module's JavaScript with its types stripped. */
export interface Stripped {
  /** The JavaScript. */
  code: string;
  /** A transformed module's source map `mappings` (version 3), back to its lines. */
  mappings?: string;
}

/** Deno's `stripTypeScriptTypes`. */
export type Strip = (
  text: string,
  options: { mode: "strip" | "transform"; sourceMap?: boolean },
) => string;

/**
 * Loads Deno's type stripper (its Node compatibility layer: about 11 ms).
 *
 * @returns `stripTypeScriptTypes`.
 */
export async function loadStripper(): Promise<Strip> {
  return (await import("node:module")).stripTypeScriptTypes as Strip;
}

/**
 * Whether a module's URL says it is TypeScript.
 *
 * @param url The module's URL.
 * @returns True for .ts, .mts, .cts, .tsx.
 */
export function isTyped(url: string): boolean {
  return /\.(ts|mts|cts|tsx)$/i.test(new URL(url).pathname);
}

/**
 * Strips a module's types.
 *
 * @param strip Deno's stripper (see {@linkcode loadStripper}).
 * @param text The source as written.
 * @returns The JavaScript, or an error message saying why it could not be made.
 */
export function stripTypes(strip: Strip, text: string): Stripped | { error: string } {
  try {
    return { code: strip(text, { mode: "strip" }) };
  } catch {
    try {
      const out = strip(text, { mode: "transform", sourceMap: true });
      const at = out.lastIndexOf("\n//# sourceMappingURL=data:application/json;base64,");
      if (at < 0) return { error: "its TypeScript could not be transformed" };
      const map = JSON.parse(atob(out.slice(out.indexOf(",", at) + 1).trim())) as {
        mappings: string;
      };
      return { code: out.slice(0, at), mappings: map.mappings };
    } catch (e) {
      return { error: `its TypeScript could not be read (${(e as Error).message})` };
    }
  }
}
