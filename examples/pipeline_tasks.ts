/**
 * The tasks of examples/pipeline.yaml, a workflow written as a document
 * (weft.workflow/v1) rather than code:
 *
 *     weft compile examples/pipeline.yaml --format mermaid
 *     weft run examples/pipeline.yaml --input 'essays=["a b c d e f","a b"]'
 *
 * @module
 */

import { task } from "../mod.ts";

/** A score from 0 to 100: here, ten points a word, at most 100. */
export const score = task(function score(essay: string) {
  const words = essay.split(/\s+/).filter((w) => w !== "").length;
  return Math.min(100, words * 10);
});

/** The mean of the scores. */
export const mean = task(function mean(scores: number[]) {
  return scores.length === 0 ? 0 : scores.reduce((a, b) => a + b, 0) / scores.length;
});

/** What a low mean gets: a note for a reviewer. */
export const flag = task(function flag(mean: number, passMark: number) {
  return `review: mean ${mean} is below ${passMark}`;
});

/** The line the pipeline ends with, once the verdict is in. */
export const summarize = task(function summarize(count: number[], verdict: string) {
  return `${count.length} essays: ${verdict}`;
});

/** Runs when the pipeline fails: here it only says what failed. */
export const report = task(function report(error: { message: string }) {
  console.error(`pipeline failed: ${error.message}`);
});
