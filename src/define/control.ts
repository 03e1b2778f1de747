/**
 * The options that say what happens when a workflow or flow fails or takes
 * too long: `onFailure` (an entity run with `{ error, inputs }`, as Flyte's
 * `on_failure` and Argo's exit handlers), `failurePolicy`, and `timeout`.
 *
 * @module
 */

import { type Duration, parseDuration } from "../core/duration.ts";
import { ValidationError } from "../core/errors.ts";
import type { FailurePolicy, RunControl } from "./defs.ts";
import { describeEntity, requireEntity } from "./entity.ts";

/** The options of a workflow or flow about failures and time. */
export interface ControlOptions {
  /**
   * An entity (task, workflow, flow, launch plan) to run when the workflow
   * or flow fails: it gets `error` (the failure as `{ name, message, nodeId,
   * task, attempt }`) and `inputs` (the workflow's), whichever of the two it
   * takes. The workflow still fails; a failure of the handler is reported
   * with it.
   * @default none
   */
  onFailure?: unknown;
  /**
   * How failures end it: `fail-fast` stops what still runs at the first
   * failure nothing handles; `finish-running` lets what runs (and what does
   * not depend on the failure) finish first, then fails (Flyte's
   * `FAIL_AFTER_EXECUTABLE_NODES_COMPLETE`).
   * @default "finish-running" for workflows, "fail-fast" for flows
   */
  failurePolicy?: FailurePolicy;
  /**
   * How long the whole workflow or flow may run; then it fails with
   * `TimeoutError`, and what still runs is cancelled (a flow sees
   * `CancelledError` at its await point). Distinct from a task's `timeout`,
   * which bounds one attempt.
   * @default no limit
   */
  timeout?: Duration;
}

/** The option names {@linkcode controlOptions} reads. */
export const CONTROL_KEYS: readonly string[] = ["onFailure", "failurePolicy", "timeout"];

/**
 * Checks the control options of a workflow or flow.
 *
 * @param options The options as given.
 * @param what The workflow or flow in messages.
 * @param defaultPolicy The failure policy when none is given.
 * @returns The control.
 * @throws {ValidationError} On a handler that takes other inputs, an unknown policy, a bad timeout.
 */
export function controlOptions(
  options: ControlOptions,
  what: string,
  defaultPolicy: FailurePolicy,
): RunControl {
  const policy = options.failurePolicy ?? defaultPolicy;
  if (policy !== "fail-fast" && policy !== "finish-running") {
    throw new ValidationError(
      `The 'failurePolicy' of ${what} must be "fail-fast" or "finish-running": current value is ${
        JSON.stringify(policy)
      }`,
    );
  }
  let onFailure = undefined;
  if (options.onFailure !== undefined) {
    onFailure = requireEntity(options.onFailure, `The 'onFailure' option of ${what}`);
    const wrong = onFailure.params.filter((p) => p.name !== "error" && p.name !== "inputs");
    if (wrong.length > 0) {
      throw new ValidationError(
        `The onFailure handler of ${what} (${
          describeEntity(onFailure)
        }) is run with { error, inputs }, but it takes ${
          wrong.map((p) => `'${p.name}'`).join(", ")
        }; give it the inputs error and/or inputs`,
      );
    }
  }
  return {
    onFailure,
    failurePolicy: policy,
    timeoutMs: options.timeout === undefined
      ? undefined
      : parseDuration(options.timeout, `the timeout of ${what}`),
  };
}
