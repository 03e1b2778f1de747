/**
 * Reads a deno.json or deno.jsonc strictly: JSON with comments and trailing
 * commas, nothing looser. Deno's own reader also takes unquoted and
 * single-quoted keys; text that only it would read is not read here, so a
 * caller that must know every key treats it as unknown.
 *
 * @module
 */

/**
 * Parses JSON with `//` and `/* *\/` comments and trailing commas.
 *
 * @param text The file's text.
 * @returns The value, or undefined when the text is anything looser.
 */
export function parseStrictJsonc(text: string): unknown {
  let out = "";
  let i = 0;
  // Where the last comma outside strings went, while only blanks followed it.
  let comma = -1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) return undefined;
      out += text.slice(i, j + 1);
      comma = -1;
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) return undefined;
      out += " ";
      i = end + 2;
    } else {
      if ((c === "}" || c === "]") && comma >= 0) {
        out = `${out.slice(0, comma)} ${out.slice(comma + 1)}`;
      }
      if (c === ",") comma = out.length;
      else if (!/\s/.test(c)) comma = -1;
      out += c;
      i++;
    }
  }
  try {
    return JSON.parse(out);
  } catch {
    return undefined;
  }
}
