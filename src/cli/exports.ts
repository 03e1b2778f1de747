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

/**
 * Refuses a script that exports nothing weft can describe or run: an empty
 * document would say nothing of what is wrong.
 *
 * @param described The loaded script.
 * @param script The script as the user named it.
 * @throws {ValidationError} Saying what to export.
 */
export function requireEntities(described: ScriptDescription, script: string): void {
  if (described.exports.length > 0) return;
  const defined = described.moduleTasks.length;
  throw new ValidationError(
    `${script} exports no workflow, flow or task${
      defined > 0
        ? ` (it defines ${defined} task${defined === 1 ? "" : "s"}: ${
          described.moduleTasks.join(", ")
        }, but does not export ${defined === 1 ? "it" : "them"})`
        : ""
    }; export what weft should see, such as export const main = workflow(...) or export const add = task(...)`,
  );
}
