/**
 * A flow's skeleton as an indented outline, the way `weft inspect` prints
 * it: `while (wait(out) < 10): add → multiply`. A run of calls, waits and
 * exits is one line (`→` where a call takes the handle of the call before
 * it); loops, branches, `switch`es, `try` blocks and helpers open a block.
 *
 * @module
 */

import type { SkeletonZone } from "../core/dag_format.ts";
import { zoneLists } from "../ir/reach.ts";
import { showCondition } from "./skeleton_view.ts";

/** Options of {@linkcode skeletonOutline}. */
export interface OutlineOptions {
  /**
   * What a call zone's entity is, to say `flow grid` for a flow.
   * @default every entity shown by its name
   */
  kindOf?: (name: string, kind: string) => string;
}

/**
 * Writes a skeleton as lines, indented two spaces a level.
 *
 * @param zones The skeleton.
 * @param options How to name what calls call.
 * @returns The lines (no trailing newline, no indentation of the outermost level).
 */
export function skeletonOutline(
  zones: readonly SkeletonZone[],
  options: OutlineOptions = {},
): string[] {
  const names = new Map<string, string>();
  const collect = (list: readonly SkeletonZone[]) => {
    for (const z of list) {
      if (z.kind === "call") names.set(z.id, z.entity.name);
      for (const inner of zoneLists(z)) collect(inner);
    }
  };
  collect(zones);
  const callText = (z: Extract<SkeletonZone, { kind: "call" }>) => {
    const kind = options.kindOf?.(z.entity.name, z.entity.kind) ?? "";
    return kind === "" || kind === "task" ? z.entity.name : `${kind} ${z.entity.name}`;
  };
  const simple = (z: SkeletonZone): string | undefined => {
    switch (z.kind) {
      case "call":
        return callText(z);
      case "wait":
        return z.mode === "yield" || z.mode === "await"
          ? `${z.mode} ${unique(z.on.map((id) => names.get(id) ?? id)).join(", ")}`
          : `${z.mode}(${unique(z.on.map((id) => names.get(id) ?? id)).join(", ")})`;
      case "exit":
        return `${z.exit}${z.label === undefined ? "" : ` ${z.label}`}`;
      default:
        return undefined;
    }
  };
  /** A list of simple zones on one line, or undefined when it needs blocks. */
  const inline = (list: readonly SkeletonZone[]): string | undefined => {
    let out = "";
    for (let i = 0; i < list.length; i++) {
      const z = list[i]!;
      const text = simple(z);
      if (text === undefined) return undefined;
      const prev = list[i - 1];
      const flows = z.kind === "call" && prev?.kind === "call" && z.from.includes(prev.id);
      out += i === 0 ? text : `${flows ? " → " : ", "}${text}`;
    }
    return out;
  };
  const lines: string[] = [];
  const write = (list: readonly SkeletonZone[], indent: string): void => {
    let run: SkeletonZone[] = [];
    const flush = () => {
      if (run.length > 0) lines.push(`${indent}${inline(run)}`);
      run = [];
    };
    for (const z of list) {
      if (simple(z) !== undefined) {
        run.push(z);
        continue;
      }
      flush();
      block(z, indent);
    }
    flush();
  };
  const head = (text: string, body: readonly SkeletonZone[], indent: string) => {
    const flat = inline(body);
    if (body.length === 0) lines.push(`${indent}${text}: nothing`);
    else if (flat !== undefined && flat.length + text.length < 90) {
      lines.push(`${indent}${text}: ${flat}`);
    } else {
      lines.push(`${indent}${text}:`);
      write(body, `${indent}  `);
    }
  };
  const block = (z: SkeletonZone, indent: string): void => {
    switch (z.kind) {
      case "loop":
        head(
          z.loop === "each"
            ? `each ${z.condition}`
            : z.loop === "do"
            ? `do … while (${showCondition(z.condition)})`
            : `${z.loop === "for-of" || z.loop === "for-in" ? "for" : z.loop} (${
              showCondition(z.condition)
            })`,
          z.body,
          indent,
        );
        return;
      case "branch":
        head(`if (${showCondition(z.condition)})`, z.then, indent);
        if (z.else.length > 0) head("else", z.else, indent);
        return;
      case "switch":
        lines.push(`${indent}switch (${showCondition(z.condition)}):`);
        for (const c of z.cases) {
          head(c.test === null ? "default" : `case ${c.test}`, c.body, `${indent}  `);
        }
        return;
      case "try":
        head("try", z.body, indent);
        if (z.catch !== undefined) head("catch", z.catch, indent);
        if (z.finally !== undefined) head("finally", z.finally, indent);
        return;
      case "helper":
        head(`helper ${z.name}()`, z.body, indent);
        return;
      case "unknown":
        lines.push(`${indent}? ${z.source}  (line ${z.line}: ${z.reason})`);
        return;
      default:
        return;
    }
  };
  write(zones, "");
  return lines;
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}
