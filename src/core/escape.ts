/**
 * Text from a script (task and node names, error messages, logs, values,
 * paths) made safe to print on a terminal: control characters — escape
 * sequences that could move the cursor, rewrite lines already printed (the
 * permission plan, say) or set the window title — and the Unicode controls
 * that reorder how text is shown are printed as visible escapes instead.
 *
 * @module
 */

// C0 controls but tab and newline, DEL, C1 controls, and the bidirectional
// formatting characters (embeddings, overrides, isolates, marks).
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// deno-lint-ignore no-control-regex
const UNSAFE_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  if (c === "\t") return "\\t";
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Escapes control characters, keeping line breaks and tabs.
 *
 * @example
 * ```ts
 * import { escapeText } from "./escape.ts";
 * import assert from "node:assert/strict";
 * assert.equal(escapeText("a\u001b[2Ab\nc"), "a\\x1b[2Ab\nc");
 * ```
 *
 * @param text The text.
 * @returns It with each control character as `\xNN` or `\uNNNN`.
 */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, visible);
}

/**
 * Escapes control characters, line breaks and tabs included: for names and
 * other text shown within one line.
 *
 * @example
 * ```ts
 * import { escapeLine } from "./escape.ts";
 * import assert from "node:assert/strict";
 * assert.equal(escapeLine("task\nname\u202e"), "task\\nname\\u202e");
 * ```
 *
 * @param text The text.
 * @returns It with each control character escaped.
 */
export function escapeLine(text: string): string {
  return text.replace(UNSAFE_LINE, visible);
}

/**
 * Escapes, in JSON text, the characters `JSON.stringify` leaves raw that a
 * terminal still acts on (C1 controls, bidirectional formatting), as
 * `\uNNNN` escapes: the JSON means the same.
 *
 * @param json JSON text.
 * @returns The same JSON, safe to print.
 */
export function escapeJson(json: string): string {
  return json.replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
