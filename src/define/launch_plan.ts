/**
 * Launch plans: an entity with some inputs defaulted and some fixed, under a
 * name of its own (as in Flyte).
 *
 * @module
 */

import { ValidationError } from "../core/errors.ts";
import { checkValue, encodeValue, isPlainObject } from "../core/values.ts";
import type { EntityDef, LaunchPlanDef, SourceLocation } from "./defs.ts";
import { callerLocation, describeEntity, requireEntity } from "./entity.ts";
import { entityFunction } from "./factory.ts";
import type { Handle } from "./handle.ts";
import type { Param } from "./params.ts";
import type { WorkflowCallOptions } from "./overrides.ts";
import { checkSchedule, type ScheduleOptions, type ScheduleSpec } from "./schedule.ts";

/** Options of {@linkcode launchPlan}: name, inputs, and optionally a schedule. */
export interface LaunchPlanOptions extends ScheduleOptions {
  /** The launch plan's name. */
  name: string;
  /**
   * Inputs used when a call leaves them out.
   * @default {}
   */
  defaults?: Record<string, unknown>;
  /**
   * Inputs set once and for all: a call that passes one is a `ValidationError`.
   * @default {}
   */
  fixed?: Record<string, unknown>;
}

/** The definition of a launch plan. */
class LaunchPlanModel implements LaunchPlanDef {
  /** Always `"launchPlan"`. */
  readonly kind = "launchPlan" as const;
  /** The launch plan's name. */
  readonly name: string;
  /** The entity it launches. */
  readonly target: EntityDef;
  /** Default inputs. */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Fixed inputs. */
  readonly fixed: Readonly<Record<string, unknown>>;
  /** Inputs are passed as one object. */
  readonly callStyle = "object" as const;
  /** Where it was defined. */
  readonly source: SourceLocation | undefined;
  /** When `weft serve` starts it, if scheduled. */
  readonly schedule: ScheduleSpec | undefined;

  /**
   * @param target The entity.
   * @param options Name, defaults, fixed inputs.
   * @param source Where it was defined.
   * @param schedule Its checked schedule.
   */
  constructor(
    target: EntityDef,
    options: LaunchPlanOptions,
    source: SourceLocation | undefined,
    schedule: ScheduleSpec | undefined,
  ) {
    this.target = target;
    this.name = options.name;
    this.defaults = { ...options.defaults };
    this.fixed = { ...options.fixed };
    this.source = source;
    this.schedule = schedule;
  }

  /** The inputs a call may pass: the target's, minus fixed ones; defaulted ones are optional. */
  get params(): Param[] {
    return this.target.params.filter((p) => !(p.name in this.fixed)).map((p) =>
      p.name in this.defaults ? { ...p, optional: true, default: this.defaults[p.name] } : p
    );
  }
  /** The target's outputs. */
  get outputs(): readonly string[] {
    return this.target.outputs;
  }
  /** As the target. */
  get bare(): boolean {
    return this.target.bare;
  }

  /**
   * The inputs to launch the target with.
   *
   * @param inputs What the call passed.
   * @returns Defaults, then the call's inputs, then fixed inputs.
   * @throws {ValidationError} When the call passes a fixed input with another value.
   */
  merge(inputs: Record<string, unknown>): Record<string, unknown> {
    for (const key of Object.keys(inputs)) {
      // Giving a fixed input its own value changes nothing (a resumed run passes its recorded inputs).
      if (
        key in this.fixed && encodeValue(inputs[key], true) !== encodeValue(this.fixed[key], true)
      ) {
        throw new ValidationError(
          `Input '${key}' of launch plan '${this.name}' is fixed to ${
            JSON.stringify(this.fixed[key])
          } and cannot be overridden; leave it out, or make another launch plan`,
        );
      }
    }
    return { ...this.defaults, ...inputs, ...this.fixed };
  }
}

/**
 * A launch plan: callable with an inputs object, and usable in `addEntity`.
 *
 * @typeParam R The value type.
 */
export interface LaunchPlan<R = unknown> {
  /** Launches the entity (or adds a node inside a workflow or flow). */
  (inputs?: Record<string, unknown>): Handle<R>;
  /** The launch plan's name. */
  readonly name: string;
  /** The same launch plan with a node name or a timeout of its own for the calls made through the result. */
  with(options: WorkflowCallOptions): LaunchPlan<R>;
}

/**
 * Makes a launch plan of a task, workflow or flow.
 *
 * @example Fix one input, default another
 * ```ts
 * import { launchPlan, task } from "@weft/weft";
 * import assert from "node:assert/strict";
 *
 * const greet = task(function greet(greeting: string, name: string) { return `${greeting}, ${name}`; });
 * const hello = launchPlan(greet, { name: "hello", fixed: { greeting: "Hello" }, defaults: { name: "world" } });
 * assert.equal(await hello(), "Hello, world");
 * assert.equal(await hello({ name: "weft" }), "Hello, weft");
 * ```
 *
 * @param entity The task, workflow or flow to launch.
 * @param options Name, defaults and fixed inputs; `schedule` (cron) or
 *   `every`, with `timezone`, `overlap` and `catchUp`, for `weft serve` to
 *   start it by itself.
 * @returns The launch plan.
 * @throws {ValidationError} On an unknown input name or a non-serialisable value.
 */
export function launchPlan<R = unknown>(
  entity: unknown,
  options: LaunchPlanOptions,
): LaunchPlan<R> {
  const target = requireEntity(entity, "launchPlan(entity, options)");
  if (target.call !== undefined) {
    throw new ValidationError(
      `launchPlan() takes an entity as defined, not one changed with .with(); launch ${
        describeEntity(target.call.base)
      } and use .with() on the launch plan's calls instead`,
    );
  }
  if (!isPlainObject(options) || typeof options.name !== "string" || options.name === "") {
    throw new ValidationError(
      `launchPlan(${target.name}, options) needs options with a name, such as { name: "${target.name}_daily" }`,
    );
  }
  const known = new Set(target.params.map((p) => p.name));
  for (const which of ["defaults", "fixed"] as const) {
    const values = options[which] ?? {};
    if (!isPlainObject(values)) {
      throw new ValidationError(
        `The '${which}' of launch plan '${options.name}' must be an object keyed by input name`,
      );
    }
    for (const [key, value] of Object.entries(values)) {
      if (!known.has(key)) {
        throw new ValidationError(
          `Launch plan '${options.name}' sets ${which} input '${key}', but ${
            describeEntity(target)
          } has no such input; its inputs are ${[...known].join(", ") || "none"}`,
        );
      }
      checkValue(value, () => `The ${which} input '${key}' of launch plan '${options.name}'`);
    }
  }
  for (const key of Object.keys(options.fixed ?? {})) {
    if (key in (options.defaults ?? {})) {
      throw new ValidationError(
        `Input '${key}' of launch plan '${options.name}' is both fixed and defaulted; keep one`,
      );
    }
  }
  const schedule = checkSchedule(options, options.name);
  if (schedule !== undefined) {
    // A scheduled run gets no inputs but the plan's own.
    const missing = target.params.filter((p) =>
      !p.optional && !(p.name in (options.defaults ?? {})) && !(p.name in (options.fixed ?? {}))
    );
    if (missing.length > 0) {
      throw new ValidationError(
        `Scheduled launch plan '${options.name}' must give every required input of ${
          describeEntity(target)
        } in 'defaults' or 'fixed'; missing ${missing.map((p) => p.name).join(", ")}`,
      );
    }
  }
  const def = new LaunchPlanModel(target, options, callerLocation(), schedule);
  return entityFunction(def) as LaunchPlan<R>;
}
