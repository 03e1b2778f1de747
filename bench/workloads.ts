// The workloads `bench/suite.ts` runs, in order. To add one, write a
// `Workload` in its own file under `bench/workloads/` and list it here.

import type { Workload } from "./_harness.ts";
import { chainWorkload } from "./workloads/chain.ts";
import { fanOutWorkload } from "./workloads/fanout.ts";
import { staticDagWorkload } from "./workloads/static_dag.ts";

/** Every workload of the suite. */
export const WORKLOADS: readonly Workload[] = [
  chainWorkload,
  fanOutWorkload,
  staticDagWorkload,
];
