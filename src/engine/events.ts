/**
 * The events of a run, in the order they happen. Terminal progress, the
 * CLI's `--json` lines and the store all read the same stream.
 *
 * @module
 */

import type { WeftErrorJson } from "../core/errors.ts";
import type { EntityKind, WaitKind } from "../define/defs.ts";
import type { RunStatus } from "../store/mod.ts";

/** Fields every event has. */
export interface EventBase {
  /** The run id. */
  runId: string;
  /** When it happened (ms since the epoch). */
  time: number;
}

/** Fields every node event has. */
export interface NodeEventBase extends EventBase {
  /** The node id. */
  nodeId: string;
  /** The entity name. */
  entity: string;
}

/** Every event of a run. */
export type WeftEvent =
  | EventBase & {
    type: "run started";
    /** The entity run. */
    entity: string;
    /** The inputs. */
    inputs: Record<string, unknown>;
    /** Whether this continues an earlier run with the same id. */
    resumed: boolean;
  }
  | NodeEventBase & {
    type: "node added";
    /** The entity kind (`sleep` and `signal`: a flow's durable waits). */
    kind: EntityKind | WaitKind;
    /** The flow or workflow node that called it. */
    parentId: string | undefined;
    /** The nodes whose outputs it takes. */
    dependsOn: string[];
  }
  | NodeEventBase & { type: "node scheduled" }
  | NodeEventBase & { type: "node started"; attempt: number }
  | NodeEventBase & {
    type: "node succeeded";
    attempt: number;
    durationMs: number;
    replayed: boolean;
  }
  | NodeEventBase & { type: "node failed"; attempt: number; error: WeftErrorJson; skipped: boolean }
  | NodeEventBase & { type: "node cancelled" }
  | NodeEventBase & {
    type: "node retrying";
    attempt: number;
    delayMs: number;
    error: WeftErrorJson;
  }
  | NodeEventBase & { type: "node cached"; from: string }
  | NodeEventBase & { type: "node log"; message: string }
  | EventBase & {
    type: "run finished";
    /** The final status. */
    status: RunStatus;
    /** The outputs, when succeeded. */
    outputs: unknown;
    /** The errors, when failed. */
    errors: WeftErrorJson[];
    /** How long the run took. */
    durationMs: number;
    /** For a run left sleeping: when its next timer fires. */
    wakeAt?: number;
    /** For a run left sleeping: the signals it waits for. */
    waitingFor?: string[];
  };

/** The `type` of a {@linkcode WeftEvent}. */
export type WeftEventType = WeftEvent["type"];

/** The types of node events. */
export type NodeEventType = Extract<WeftEvent, { nodeId: string }>["type"];

/** A node event's own fields, beyond those every node event has. */
export type NodeEventFields<T extends NodeEventType> = Omit<
  Extract<WeftEvent, { type: T }>,
  "type" | "runId" | "time" | "nodeId" | "entity"
>;
