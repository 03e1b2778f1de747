/**
 * Progress for people. The child that runs a workflow folds events into a
 * {@linkcode ProgressModel} (a few counter updates per event) and sends a
 * snapshot a few times a second; the parent draws it on stderr: a live view
 * on a terminal, plain lines otherwise. Nothing here runs per event on the
 * drawing side, so 100,000 tiny tasks are not slowed down by their display.
 *
 * @module
 */

import { escapeLine, escapeText } from "../core/escape.ts";
import type { WeftErrorJson } from "../core/errors.ts";
import type { WeftEvent } from "../engine/events.ts";

/** A running task in a snapshot. */
export interface RunningTask {
  /** Node id. */
  id: string;
  /** Task name. */
  entity: string;
  /** When its current attempt started (ms since the epoch). */
  since: number;
  /** The attempt number. */
  attempt: number;
}

/** A task that finished since the last snapshot. */
export interface FinishedTask {
  /** Node id. */
  id: string;
  /** Task name. */
  entity: string;
  /** How it ended. */
  status: "succeeded" | "failed" | "skipped" | "cancelled" | "cached";
  /** How long it ran. */
  ms: number;
  /** The error message, when it failed. */
  error?: string;
}

/** What the parent draws. */
export interface ProgressSnapshot {
  /** When the run started. */
  startedAt: number;
  /** Now, in the child. */
  time: number;
  /** Tasks added to the run graph so far. */
  added: number;
  /** Tasks that succeeded (cached ones included). */
  succeeded: number;
  /** Tasks served from the cache or the journal. */
  cached: number;
  /** Tasks that failed. */
  failed: number;
  /** Tasks skipped because an input failed, or cancelled. */
  skipped: number;
  /** Retries so far. */
  retries: number;
  /** The tasks running now (at most `MAX_RUNNING`), oldest first. */
  running: RunningTask[];
  /** How many tasks are running in all. */
  runningCount: number;
  /** Tasks finished since the previous snapshot (for plain output). */
  finished: FinishedTask[];
  /** The latest retry, for display. */
  lastRetry?: { id: string; attempt: number; delayMs: number; message: string };
  /** Lines tasks logged (`ctx.log`) since the previous snapshot, oldest first. */
  logs: { id: string; message: string }[];
  /** Lines logged since the previous snapshot beyond those sent. */
  logsDropped: number;
}

const MAX_RUNNING = 8;
/** At most this many logged lines per snapshot (a few times a second); the rest are counted. */
const MAX_LOGS = 200;

/** Folds events into counts. */
export class ProgressModel {
  #startedAt = Date.now();
  #added = 0;
  #succeeded = 0;
  #cached = 0;
  #failed = 0;
  #skipped = 0;
  #retries = 0;
  #running = new Map<string, RunningTask>();
  #finished: FinishedTask[] = [];
  #lastRetry: ProgressSnapshot["lastRetry"];
  #dirty = true;
  #keepFinished: boolean;
  #logs: { id: string; message: string }[] = [];
  #logsDropped = 0;
  #startTimes = new Map<string, number>();

  /**
   * @param keepFinished Whether snapshots list finished tasks (plain output needs them).
   */
  constructor(keepFinished: boolean) {
    this.#keepFinished = keepFinished;
  }

  /** Whether anything changed since the last snapshot. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /**
   * Applies one event.
   *
   * @param e The event.
   */
  apply(e: WeftEvent): void {
    if (e.type === "run started") {
      this.#startedAt = e.time;
      this.#dirty = true;
      return;
    }
    if (e.type === "node added") {
      if (e.kind === "task") {
        this.#tasks.add(e.nodeId);
        this.#added++;
        this.#dirty = true;
      }
      return;
    }
    if (e.type === "run finished" || !this.#tasks.has(e.nodeId)) return;
    switch (e.type) {
      case "node started":
        this.#running.set(e.nodeId, {
          id: e.nodeId,
          entity: e.entity,
          since: e.time,
          attempt: e.attempt,
        });
        if (!this.#startTimes.has(e.nodeId)) this.#startTimes.set(e.nodeId, e.time);
        break;
      case "node retrying":
        this.#retries++;
        this.#running.delete(e.nodeId);
        this.#lastRetry = {
          id: e.nodeId,
          attempt: e.attempt,
          delayMs: e.delayMs,
          message: e.error.message,
        };
        break;
      case "node cached":
        this.#cachedIds.add(e.nodeId);
        break;
      case "node log":
        if (this.#logs.length < MAX_LOGS) this.#logs.push({ id: e.nodeId, message: e.message });
        else this.#logsDropped++;
        break;
      case "node succeeded": {
        this.#succeeded++;
        const cached = this.#cachedIds.delete(e.nodeId) || e.replayed;
        if (cached) this.#cached++;
        this.#finish(e.nodeId, e.entity, cached ? "cached" : "succeeded", e.time);
        break;
      }
      case "node failed":
        if (e.skipped) this.#skipped++;
        else this.#failed++;
        this.#finish(e.nodeId, e.entity, e.skipped ? "skipped" : "failed", e.time, e.error);
        break;
      case "node cancelled":
        this.#skipped++;
        this.#finish(e.nodeId, e.entity, "cancelled", e.time);
        break;
      default:
        return;
    }
    this.#dirty = true;
  }

  #tasks = new Set<string>();
  #cachedIds = new Set<string>();

  #finish(
    id: string,
    entity: string,
    status: FinishedTask["status"],
    time: number,
    error?: WeftErrorJson,
  ): void {
    const started = this.#startTimes.get(id) ?? time;
    this.#running.delete(id);
    this.#startTimes.delete(id);
    this.#tasks.delete(id);
    if (!this.#keepFinished) return;
    const f: FinishedTask = { id, entity, status, ms: time - started };
    if (error !== undefined) f.error = error.message;
    this.#finished.push(f);
  }

  /**
   * The current state; clears the list of finished tasks.
   *
   * @returns The snapshot.
   */
  snapshot(): ProgressSnapshot {
    this.#dirty = false;
    const running: RunningTask[] = [];
    for (const r of this.#running.values()) {
      running.push(r);
      if (running.length >= MAX_RUNNING) break;
    }
    const s: ProgressSnapshot = {
      startedAt: this.#startedAt,
      time: Date.now(),
      added: this.#added,
      succeeded: this.#succeeded,
      cached: this.#cached,
      failed: this.#failed,
      skipped: this.#skipped,
      retries: this.#retries,
      running,
      runningCount: this.#running.size,
      finished: this.#finished,
      logs: this.#logs,
      logsDropped: this.#logsDropped,
    };
    if (this.#lastRetry !== undefined) s.lastRetry = this.#lastRetry;
    this.#finished = [];
    this.#logs = [];
    this.#logsDropped = 0;
    return s;
  }
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Formats a duration for people: `850ms`, `3.4s`, `2m05s`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, "0")}s`;
}

/** How the parent shows progress. */
export type ProgressMode = "live" | "plain" | "quiet";

/** Draws snapshots on stderr. */
export class ProgressView {
  readonly #mode: ProgressMode;
  readonly #color: boolean;
  #last: ProgressSnapshot | undefined;
  #lines = 0;
  #frame = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #clockOffset = 0;
  readonly #write: (text: string) => void;

  /**
   * @param mode Live redraws, plain lines, or nothing.
   * @param color Whether to use colours.
   * @param write Where text goes (stderr).
   */
  constructor(mode: ProgressMode, color: boolean, write: (text: string) => void) {
    this.#mode = mode;
    this.#color = color;
    this.#write = write;
    if (mode === "live") {
      // Redraw at a modest rate: the spinner and clocks move between snapshots.
      this.#timer = setInterval(() => this.#draw(), 100);
    }
  }

  /**
   * Takes a new snapshot.
   *
   * @param s The snapshot.
   */
  update(s: ProgressSnapshot): void {
    this.#clockOffset = Date.now() - s.time;
    this.#last = s;
    if (this.#mode === "quiet") return;
    // What tasks logged, above the live view or among the plain lines (before
    // the lines of tasks that finished since: they logged before finishing).
    let logged = "";
    for (const l of s.logs ?? []) {
      for (const line of l.message.split("\n")) {
        logged += `${this.#paint("2", `${escapeLine(l.id)}:`)} ${escapeLine(line)}\n`;
      }
    }
    if ((s.logsDropped ?? 0) > 0) logged += `… ${s.logsDropped} more logged lines not shown\n`;
    if (this.#mode === "plain") {
      for (const f of s.finished) logged += `${this.#plainLine(f)}\n`;
      if (logged !== "") this.#write(logged);
    } else if (logged !== "") this.#above(logged);
  }

  /**
   * Prints a line above the live view (user output, messages).
   *
   * @param text The text, ending with a newline.
   */
  print(text: string): void {
    // What the run child sends is the script's: no terminal controls pass.
    this.#above(escapeText(text));
  }

  /** Writes text that is safe to print above the live view (or as a plain line). */
  #above(text: string): void {
    if (this.#mode !== "live") {
      this.#write(text);
      return;
    }
    this.#clear();
    this.#write(text);
    this.#draw();
  }

  /**
   * Stops redrawing and prints the summary.
   *
   * @param summary The final line(s).
   */
  finish(summary: string[]): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#mode === "live") this.#clear();
    if (this.#mode === "quiet") return;
    for (const line of summary) this.#write(`${escapeText(line)}\n`);
  }

  /** The counts line, such as `done 12 · running 2 · pending 5 · failed 0`. */
  counts(s: ProgressSnapshot): string {
    const done = s.succeeded;
    const pending = Math.max(0, s.added - done - s.failed - s.skipped - s.runningCount);
    const parts = [
      `done ${done}`,
      `running ${s.runningCount}`,
      `pending ${pending}`,
      `failed ${s.failed}`,
    ];
    if (s.cached > 0) parts.push(`cached ${s.cached}`);
    if (s.skipped > 0) parts.push(`skipped ${s.skipped}`);
    if (s.retries > 0) parts.push(`retries ${s.retries}`);
    return parts.join(" · ");
  }

  #plainLine(finished: FinishedTask): string {
    const f = { ...finished, id: escapeLine(finished.id) };
    if (f.error !== undefined) f.error = escapeLine(f.error);
    switch (f.status) {
      case "succeeded":
        return `${this.#paint("32", "✓")} ${f.id} (${formatMs(f.ms)})`;
      case "cached":
        return `${this.#paint("36", "=")} ${f.id} (cached)`;
      case "failed":
        return `${this.#paint("31", "✗")} ${f.id}: ${f.error ?? "failed"}`;
      case "skipped":
        return `${this.#paint("33", "-")} ${f.id} (skipped: an input failed)`;
      case "cancelled":
        return `${this.#paint("33", "-")} ${f.id} (cancelled)`;
    }
  }

  #paint(code: string, text: string): string {
    return this.#color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  #clear(): void {
    if (this.#lines > 0) {
      this.#write(`\x1b[${this.#lines}F\x1b[J`);
      this.#lines = 0;
    }
  }

  #draw(): void {
    const s = this.#last;
    if (s === undefined || this.#mode !== "live") return;
    const now = Date.now() - this.#clockOffset;
    this.#frame = (this.#frame + 1) % SPINNER.length;
    const lines: string[] = [];
    for (const r of s.running) {
      const attempt = r.attempt > 1 ? `  (attempt ${r.attempt})` : "";
      lines.push(
        `${this.#paint("36", SPINNER[this.#frame]!)} ${escapeLine(r.id).padEnd(24)} ${
          formatMs(now - r.since).padStart(7)
        }${attempt}`,
      );
    }
    if (s.runningCount > s.running.length) {
      lines.push(`  … and ${s.runningCount - s.running.length} more running`);
    }
    if (s.lastRetry !== undefined) {
      lines.push(
        this.#paint(
          "33",
          `↻ ${escapeLine(s.lastRetry.id)} retrying (attempt ${s.lastRetry.attempt + 1}) after: ${
            escapeLine(s.lastRetry.message)
          }`.slice(0, 120),
        ),
      );
    }
    lines.push(`${this.counts(s)}   ${formatMs(now - s.startedAt)}`);
    this.#clear();
    this.#write(`${lines.join("\n")}\n`);
    this.#lines = lines.length;
  }
}
