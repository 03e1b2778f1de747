/**
 * `weft schedules [SCRIPT…]`: the scheduled launch plans, with their next
 * fire times and what became of their last fire.
 *
 * @module
 */

import { scheduleOfDag, type ScheduleSpec } from "../define/schedule.ts";
import { fireTimes } from "../engine/schedule_times.ts";
import type { ScheduleFire, Store } from "../store/mod.ts";
import { parseCommandArgs } from "./args.ts";
import type { Command } from "./command.ts";
import { STORE_HELP, table, withStore, write } from "./history.ts";
import { loadScript } from "./load.ts";
import { resolveScript } from "./script.ts";

interface Listed {
  name: string;
  spec: ScheduleSpec;
  script: string | undefined;
}

/** `weft schedules`. */
export const schedulesCommand: Command = {
  summary: "list scheduled launch plans with their next fire times",
  help: `Usage: weft schedules [SCRIPT…] [--json] [--store S]

Lists the scheduled launch plans of the SCRIPTs (or, without one, those a
weft serve recorded in the store): name, schedule, overlap policy, next fire
time, and the last fire with what became of it (started, queued, skipped).

Options:
  --json      one JSON object per schedule
${STORE_HELP}`,
  async run(args) {
    const { values, positionals } = parseCommandArgs("schedules", args, {
      json: { type: "boolean" },
      store: { type: "string" },
    });
    const listed: Listed[] = [];
    for (const path of positionals) {
      const url = resolveScript(path);
      const described = await loadScript(url);
      for (const lp of described.dag.launchPlans) {
        if (lp.schedule === undefined) continue;
        listed.push({
          name: lp.name,
          script: path,
          spec: scheduleOfDag(lp.schedule),
        });
      }
    }
    const storeArg = values.store as string | undefined;
    const fromStore = async (store: Store) => {
      if (positionals.length === 0) {
        for (const r of await store.listSchedules()) {
          listed.push({ name: r.name, script: r.script?.replace(/^file:\/\//, ""), spec: r });
        }
      }
      const last = new Map<string, ScheduleFire>();
      for (const l of listed) {
        const fire = (await store.listFires(l.name, { limit: 1 }))[0];
        if (fire !== undefined) last.set(l.name, fire);
      }
      return last;
    };
    let last = new Map<string, ScheduleFire>();
    try {
      last = await withStore(storeArg, fromStore);
    } catch (e) {
      // No store yet: scripts still list their schedules, with no history.
      if (positionals.length === 0) throw e;
    }
    const now = Date.now();
    const rows: Record<string, unknown>[] = [];
    for (const l of listed) {
      const next = (await fireTimes(l.spec, l.name)).next(now);
      const fire = last.get(l.name);
      rows.push({
        name: l.name,
        script: l.script,
        schedule: l.spec.cron === undefined ? `every ${l.spec.everyMs} ms` : l.spec.cron,
        timezone: l.spec.cron === undefined ? undefined : l.spec.timezone,
        overlap: l.spec.overlap,
        catchUp: l.spec.catchUp,
        next: next === undefined ? undefined : new Date(next).toISOString(),
        last: fire === undefined ? undefined : {
          fireAt: new Date(fire.fireAt).toISOString(),
          status: fire.status,
          runId: fire.runId,
        },
      });
    }
    if (values.json) {
      for (const r of rows) write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      console.error(
        positionals.length === 0
          ? "weft: no schedules recorded (weft serve records what it serves; or name a SCRIPT)"
          : "weft: the scripts schedule no launch plan",
      );
      return 0;
    }
    const out = [["NAME", "SCHEDULE", "OVERLAP", "NEXT FIRE", "LAST FIRE"]];
    for (const r of rows) {
      const lastFire = r.last as { fireAt: string; status: string } | undefined;
      out.push([
        r.name as string,
        `${r.schedule}${r.timezone && r.timezone !== "UTC" ? ` (${r.timezone})` : ""}`,
        r.overlap as string,
        (r.next as string | undefined) ?? "-",
        lastFire === undefined ? "-" : `${lastFire.fireAt} ${lastFire.status}`,
      ]);
    }
    write(table(out));
    return 0;
  },
};
