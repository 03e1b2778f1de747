/**
 * The errors weft throws. Every class extends {@linkcode WeftError}, carries
 * the node, task and attempt it concerns when there is one, and serialises
 * with `toJSON()` so that it survives the store and the CLI's `--json` lines.
 *
 * @module
 */

/** The serialised form of a {@linkcode WeftError}, as stored and printed. */
export interface WeftErrorJson {
  /** The error class, such as `"TaskFailedError"`. */
  name: string;
  /** What went wrong and what to change. */
  message: string;
  /** The node the error concerns, when there is one. */
  nodeId?: string;
  /** The task (or other entity) the error concerns, when there is one. */
  task?: string;
  /** The attempt (1-based) that failed, when there is one. */
  attempt?: number;
  /** The underlying error, reduced to its name and message. */
  cause?: { name: string; message: string; stack?: string };
  /** The stack of this error, when it is known. */
  stack?: string;
}

/** Details a {@linkcode WeftError} may carry. */
export interface WeftErrorOptions {
  /** The node the error concerns. */
  nodeId?: string;
  /** The task (or other entity) the error concerns. */
  task?: string;
  /** The attempt (1-based) that failed. */
  attempt?: number;
  /** The underlying error. */
  cause?: unknown;
}

/** The base class of every error weft throws on purpose. */
export class WeftError extends Error {
  /** The node the error concerns, when there is one. */
  readonly nodeId: string | undefined;
  /** The task (or other entity) the error concerns, when there is one. */
  readonly task: string | undefined;
  /** The attempt (1-based) that failed, when there is one. */
  readonly attempt: number | undefined;

  /**
   * Creates an error.
   *
   * @param message What went wrong and what to change.
   * @param options The node, task, attempt and cause the error concerns.
   */
  constructor(message: string, options: WeftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.nodeId = options.nodeId;
    this.task = options.task;
    this.attempt = options.attempt;
  }

  /**
   * The plain-data form of the error: `{ name, message, nodeId, task,
   * attempt, cause: { name, message } }`.
   *
   * @returns The error as JSON-compatible data.
   */
  toJSON(): WeftErrorJson {
    const out: WeftErrorJson = { name: this.name, message: this.message };
    if (this.nodeId !== undefined) out.nodeId = this.nodeId;
    if (this.task !== undefined) out.task = this.task;
    if (this.attempt !== undefined) out.attempt = this.attempt;
    if (this.cause !== undefined) out.cause = describeCause(this.cause);
    if (this.stack !== undefined) out.stack = this.stack;
    return out;
  }
}

/**
 * A mistake in how a workflow, task or input is written or bound: found at
 * build time, at compile time, or before a run starts. Nothing has run.
 */
export class ValidationError extends WeftError {}

/**
 * A task failed: after its last attempt, on a timeout, or because a node it
 * depends on failed. `cause` holds the task's own error.
 */
export class TaskFailedError extends WeftError {}

/**
 * A replayed flow made a call that differs from its journal at the same
 * position. Fatal to the run: a flow cannot catch it.
 */
export class NonDeterminismError extends WeftError {
  /** The journal position (scope and sequence number) of the mismatch. */
  readonly position: string;
  /** The call the journal recorded at this position. */
  readonly recorded: string;
  /** The call the flow made this time. */
  readonly actual: string;

  /**
   * Creates the error for a mismatch at `position`.
   *
   * @param message What differs and what to change.
   * @param details The position and both calls.
   */
  constructor(
    message: string,
    details: { position: string; recorded: string; actual: string } & WeftErrorOptions,
  ) {
    super(message, details);
    this.position = details.position;
    this.recorded = details.recorded;
    this.actual = details.actual;
  }
}

/**
 * A task reached for a Deno permission it did not declare. The message names
 * the permission kind, the value Deno refused, and the declaration to add.
 */
export class PermissionDeniedError extends WeftError {
  /** The permission kind, such as `"read"` or `"net"`. */
  readonly kind: string;
  /**
   * The path, host, variable or command Deno refused; for a task that
   * declares permissions the run was not granted (`weft run` grants the
   * tasks its plan lists), the task's name.
   */
  readonly value: string;

  /**
   * Creates the error.
   *
   * @param message What was refused and the declaration to add.
   * @param details The permission kind and value, plus node and task.
   */
  constructor(message: string, details: { kind: string; value: string } & WeftErrorOptions) {
    super(message, details);
    this.kind = details.kind;
    this.value = details.value;
  }
}

/**
 * A run id is owned by another live process (or worker): it cannot be
 * started or resumed twice at once. The message names the owner, such as
 * `run dup is running (pid 4242 on build-1 since 2026-12-01T10:00:00.000Z)`.
 */
export class RunOwnedError extends WeftError {
  /** The run. */
  readonly runId: string;
  /** The owning process. */
  readonly pid: number | undefined;
  /** The owning machine. */
  readonly host: string | undefined;

  /**
   * Creates the error.
   *
   * @param message What is running where, and what to do.
   * @param details The run and its owner.
   */
  constructor(
    message: string,
    details: { runId: string; pid?: number; host?: string } & WeftErrorOptions,
  ) {
    super(message, details);
    this.runId = details.runId;
    this.pid = details.pid;
    this.host = details.host;
  }
}

/** A task ran longer than its `timeout`. Found as the `cause` of a {@linkcode TaskFailedError}. */
export class TimeoutError extends WeftError {}

/** The run was cancelled (its signal aborted, or Ctrl-C) before the work finished. */
export class CancelledError extends WeftError {}

/**
 * Reduces any thrown value to `{ name, message, stack }`.
 *
 * @param cause Anything that was thrown.
 * @returns Its name, message and stack when it has them.
 */
export function describeCause(cause: unknown): { name: string; message: string; stack?: string } {
  if (cause instanceof Error) {
    const out: { name: string; message: string; stack?: string } = {
      name: cause.name,
      message: cause.message,
    };
    if (cause.stack !== undefined) out.stack = cause.stack;
    return out;
  }
  if (cause !== null && typeof cause === "object" && "message" in cause) {
    const c = cause as { name?: unknown; message?: unknown };
    return { name: String(c.name ?? "Error"), message: String(c.message) };
  }
  return { name: "Error", message: String(cause) };
}

/** The error classes made from a message and options alone, by name (see {@linkcode weftErrorNamed}). */
const PLAIN_CLASSES: Readonly<
  Record<string, new (message: string, options?: WeftErrorOptions) => WeftError>
> = { WeftError, ValidationError, TaskFailedError, TimeoutError, CancelledError };

/**
 * An error of the weft class a store's JSON names, made again: a flow that
 * tests the class of a failure it caught (`e instanceof TimeoutError`,
 * `e.cause instanceof TimeoutError`) takes the same path when the failure
 * is replayed. Undefined for any other name.
 *
 * @param name The recorded name, such as `"TimeoutError"`.
 * @param message The recorded message.
 * @param options The node, task, attempt and cause.
 * @returns The error, or undefined when no such class is made from a message alone.
 */
export function weftErrorNamed(
  name: string,
  message: string,
  options?: WeftErrorOptions,
): WeftError | undefined {
  const Class = Object.hasOwn(PLAIN_CLASSES, name) ? PLAIN_CLASSES[name] : undefined;
  return Class === undefined ? undefined : new Class(message, options);
}
