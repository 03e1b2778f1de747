/**
 * Run ids: new ones, time-ordered and unique, and the rule a given one must
 * follow. A module of its own so that the CLI can name a run before it
 * starts the process that executes it, without loading the engine.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";

let lastIdTime = 0;
let idCounter = 0;

/**
 * A new run id: time-ordered and unique in the process.
 *
 * @returns Such as `mhf3k2a1-7xq9` .
 */
export function newRunId(): string {
  const now = Date.now();
  idCounter = now === lastIdTime ? idCounter + 1 : 0;
  lastIdTime = now;
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36).padStart(7, "0").slice(
    0,
    6,
  );
  return `${now.toString(36)}${idCounter.toString(36).padStart(2, "0")}-${rand}`;
}

/**
 * Checks a given run id.
 *
 * @param runId The id.
 * @throws {ValidationError} Unless it is 1 to 128 letters, digits, `_`, `-`, `.` or `:`.
 */
export function checkRunId(runId: unknown): void {
  if (typeof runId !== "string" || !/^[\w.:-]{1,128}$/.test(runId)) {
    throw new ValidationError(
      `Cannot use the run id ${
        JSON.stringify(runId)
      }: use 1 to 128 letters, digits, '_', '-', '.' or ':'`,
    );
  }
}
