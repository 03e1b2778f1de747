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
// Random numbers are drawn 256 at a time: one draw costs about as much as the rest of an id.
const POOL_SIZE = 256;
const pool = new Uint32Array(POOL_SIZE);
let poolAt = POOL_SIZE;

/**
 * A new run id: time-ordered and unique in the process.
 *
 * @returns Such as `mhf3k2a1-7xq9` .
 */
export function newRunId(): string {
  const now = Date.now();
  idCounter = now === lastIdTime ? idCounter + 1 : 0;
  lastIdTime = now;
  if (poolAt === POOL_SIZE) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const rand = pool[poolAt++]!.toString(36).padStart(7, "0").slice(0, 6);
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
