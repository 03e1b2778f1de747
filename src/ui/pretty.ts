/**
 * Values as the web UI shows them: pretty, and cut to a size a page can
 * hold, with a way to ask for all of it.
 *
 * @module
 */

/** A value made readable. */
export interface PrettyValue {
  /** The text. */
  text: string;
  /** Whether the text was cut. */
  truncated: boolean;
  /** `string` for a string shown as it is, else `value`. */
  type: "string" | "value";
}

/** How much of a value a panel shows before "show all". */
export const PREVIEW_CHARS = 2_000;

/** The most a "show all" sends. */
export const FULL_CHARS = 2_000_000;

/**
 * Writes a value for people: strings as they are, everything else the way
 * Deno prints it (Maps, Sets, Dates, bigints and byte arrays included).
 *
 * @param value The value.
 * @param max The most characters to return.
 * @returns The text and whether it was cut.
 */
export function prettyValue(value: unknown, max: number = PREVIEW_CHARS): PrettyValue {
  if (typeof value === "string") {
    return value.length <= max
      ? { text: value, truncated: false, type: "string" }
      : { text: value.slice(0, max), truncated: true, type: "string" };
  }
  const full = max > PREVIEW_CHARS;
  let text: string;
  try {
    text = Deno.inspect(value, {
      colors: false,
      depth: full ? 100 : 8,
      iterableLimit: full ? 100_000 : 200,
      strAbbreviateSize: full ? FULL_CHARS : 500,
      breakLength: 80,
      compact: true,
      sorted: false,
      trailingComma: false,
      getters: false,
      showProxy: false,
    });
  } catch (e) {
    text = `(cannot show this value: ${(e as Error).message})`;
  }
  return text.length <= max
    ? { text, truncated: false, type: "value" }
    : { text: text.slice(0, max), truncated: true, type: "value" };
}
