/**
 * Renders a `weft.dag/v1` document in the formats `weft compile` offers:
 * JSON, YAML (the same document), Graphviz DOT, Mermaid and a
 * self-contained HTML page. Each format beyond JSON loads its code (and
 * dependencies) only when used.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { DagDocument } from "../ir/mod.ts";

/** The formats {@linkcode renderDag} knows. */
export const DAG_FORMATS = ["json", "yaml", "dot", "mermaid", "html"] as const;

/** One of {@linkcode DAG_FORMATS}. */
export type DagFormat = typeof DAG_FORMATS[number];

/** Options of {@linkcode renderDag}. */
export interface RenderOptions {
  /**
   * A title for the drawn formats (the DOT graph label, the HTML page title),
   * such as the script's name.
   * @default "weft.dag/v1" for DOT, "weft graph" for HTML
   */
  title?: string;
}

/**
 * Renders a document. The same document always gives the same text.
 *
 * @example Render a workflow as YAML and as DOT
 * ```ts
 * import { task, workflow } from "@weft/weft";
 * import { renderDag } from "@weft/weft/ir";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const twice = workflow(function twice(x: number) { return inc(inc(x)); });
 * assert.match(await renderDag(twice.graph, "yaml"), /^format: weft\.dag\/v1$/m);
 * assert.match(await renderDag(twice.graph, "dot"), /w0_n0 -> w0_n1/);
 * ```
 *
 * @param dag The document.
 * @param format One of {@linkcode DAG_FORMATS}.
 * @param options A title for the drawn formats.
 * @returns The text (ending with a newline).
 * @throws {ValidationError} On an unknown format.
 */
export async function renderDag(
  dag: DagDocument,
  format: string,
  options: RenderOptions = {},
): Promise<string> {
  switch (format) {
    case "json":
      return `${JSON.stringify(dag, null, 2)}\n`;
    case "yaml": {
      const { stringify } = await import("npm:yaml@2.8.1");
      return stringify(dag, { aliasDuplicateObjects: false, lineWidth: 0 });
    }
    case "dot": {
      const { toDot } = await import("./dot.ts");
      return toDot(dag, options.title);
    }
    case "mermaid": {
      const { toMermaid } = await import("./mermaid.ts");
      return toMermaid(dag);
    }
    case "html": {
      const { toHtml } = await import("./html.ts");
      return await toHtml(dag, options.title === undefined ? {} : { title: options.title });
    }
    default:
      throw new ValidationError(
        `Unknown format '${format}'; use one of ${DAG_FORMATS.join(", ")}`,
      );
  }
}
