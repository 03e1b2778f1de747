/**
 * Finding an entity among those a described script exports. Apart from the
 * commands, so that `weft run` can use it without loading `weft compile`
 * and the renderers behind it.
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import type { ExportInfo, ScriptDescription } from "./protocol.ts";

/**
 * Finds an exported entity by export name or entity name.
 *
 * @param described The loaded script.
 * @param name The name given.
 * @param kinds The kinds that may be selected.
 * @returns The export.
 * @throws {ValidationError} Listing what there is when nothing matches.
 */
export function findExport(
  described: ScriptDescription,
  name: string,
  kinds: readonly string[] = ["workflow", "flow", "launchPlan", "task"],
): ExportInfo {
  const candidates = described.exports.filter((e) => kinds.includes(e.kind));
  const found = candidates.find((e) => e.export === name) ??
    candidates.find((e) => e.name === name);
  if (found === undefined) {
    const list = candidates.map((e) => e.export === e.name ? e.name : `${e.export} (${e.name})`);
    throw new ValidationError(
      `${described.url.replace(/^file:\/\//, "")} exports no workflow named '${name}'; it exports ${
        list.length ? list.join(", ") : "none"
      }`,
    );
  }
  return found;
}
