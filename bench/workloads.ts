// The workloads `bench/suite.ts` runs, in order. To add one, write a
// `Workload` in its own file under `bench/workloads/` and list it here.

import type { Workload } from "./_harness.ts";
import { chainWorkload } from "./workloads/chain.ts";
import { cliWorkload } from "./workloads/cli.ts";
import { durableWorkload, resumeWorkload } from "./workloads/durable.ts";
import { fanOutWorkload } from "./workloads/fanout.ts";
import { grantsWorkload } from "./workloads/grants.ts";
import { isolateWorkload } from "./workloads/isolate.ts";
import { lineageWorkload } from "./workloads/lineage.ts";
import { peersWorkload, shortRunWorkload } from "./workloads/peers.ts";
import { mapWorkload } from "./workloads/map.ts";
import { skeletonWorkload } from "./workloads/skeleton.ts";
import { staticDagWorkload } from "./workloads/static_dag.ts";

/** Every workload of the suite. */
export const WORKLOADS: readonly Workload[] = [
  // In memory (issues 3 and 7).
  chainWorkload,
  fanOutWorkload,
  staticDagWorkload,
  // mapTask against a flow fan-out (issue 14).
  mapWorkload,
  // Durable runs on SQLite, resume, isolate workers, CLI cold start.
  durableWorkload,
  resumeWorkload,
  // The durable peers' W1, W2 and W3 (issue 19).
  peersWorkload,
  shortRunWorkload,
  isolateWorkload,
  cliWorkload,
  // weft run with per-task grants vs --no-isolate, and the IPC cost of a flush (issue 12).
  grantsWorkload,
  // Compiling a flow's skeleton (issue 18).
  skeletonWorkload,
  // Lineage of a long run (issue 13).
  lineageWorkload,
];
