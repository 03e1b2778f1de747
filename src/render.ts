/**
 * Renders a `weft.dag/v1` document in the formats `weft compile` offers.
 * Each format beyond JSON loads its code (and dependencies) only when used.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";
import type { DagDocument } from "./ir.ts";

/** The formats {@linkcode renderDag} knows. */
export const DAG_FORMATS = ["json", "yaml"] as const;

/** One of {@linkcode DAG_FORMATS}. */
export type DagFormat = typeof DAG_FORMATS[number];

/**
 * Renders a document.
 *
 * @param dag The document.
 * @param format The output format.
 * @returns The text (ending with a newline).
 * @throws {ValidationError} On an unknown format.
 */
export async function renderDag(dag: DagDocument, format: string): Promise<string> {
  switch (format) {
    case "json":
      return `${JSON.stringify(dag, null, 2)}\n`;
    case "yaml": {
      const { stringify } = await import("npm:yaml@2.8.1");
      return stringify(dag, { aliasDuplicateObjects: false, lineWidth: 0 });
    }
    default:
      throw new ValidationError(`Unknown format '${format}'; use one of ${DAG_FORMATS.join(", ")}`);
  }
}
