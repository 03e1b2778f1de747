/**
 * Count the words of a text file: a flow whose first task declares the one
 * permission it needs — reading `data/poem.txt` — so that `weft run` grants
 * exactly that and nothing else.
 *
 *     weft inspect examples/wordcount.ts
 *     weft run examples/wordcount.ts --input top=3
 *
 * @module
 */

import { flow, task, wait } from "../mod.ts";

/** Reads the text: the only task that touches the disk, and it says so. */
export const readText = task(
  { name: "readText", permissions: { read: ["./data"] }, retries: 2, timeout: "5s" },
  async function readText(path: string) {
    return await Deno.readTextFile(new URL(path, import.meta.url));
  },
);

/** Splits a line into lower-case words. */
export const words = task(function words(line: string) {
  return line.toLowerCase().match(/[a-z']+/g) ?? [];
});

/** Counts words. */
export const count = task(function count(lists: string[][]) {
  const counts: Record<string, number> = {};
  for (const list of lists) for (const w of list) counts[w] = (counts[w] ?? 0) + 1;
  return counts;
});

/** The most frequent words, most frequent first (ties by word). */
export const topWords = task(function topWords(counts: Record<string, number>, top: number) {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .slice(0, top)
    .map(([word, n]) => ({ word, n }));
});

/** Read the file, split every line in parallel, count, and keep the top words. */
export const wordcount = flow(
  { tasks: [readText, words, count, topWords] },
  async function* wordcount(path = "data/poem.txt", top = 5) {
    const text = yield* wait(readText(path));
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    // One task per line, run concurrently; passing the handles on keeps the edges (and lineage).
    const perLine = lines.map((line) => words(line));
    return { lines: lines.length, top: topWords(count(perLine), top) };
  },
);

if (import.meta.main) {
  console.log(await wordcount("data/poem.txt", 3));
}
