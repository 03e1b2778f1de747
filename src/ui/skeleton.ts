/**
 * A flow's run laid over its skeleton (`src/render/skeleton_*.ts`): the
 * loops, branches and calls of the flow's source, with how often each call
 * ran, its state, each loop's rounds and the branches not taken — the same
 * drawing the HTML export makes, for the run page.
 *
 * @module
 */

import type { Store } from "../store/mod.ts";
import { runOverlay } from "../render/skeleton_overlay.ts";
import { skeletonDetails, skeletonSection } from "../render/skeleton_html.ts";
import type { PageDetails } from "../render/html_details.ts";
import type { Describe } from "./api.ts";

/** A run's skeleton, drawn; or why there is none. */
export type RunSkeleton =
  | {
    /** The SVG markup of the section (escaped by the renderer). */
    svg: string;
    /** Its size. */
    width: number;
    /** Its size. */
    height: number;
    /** Whether the run's calls fit a path through the skeleton (else they were matched by name). */
    fits: boolean;
    /** What the panel shows for each box, by key. */
    details: Record<string, PageDetails>;
  }
  | {
    /** Why there is no skeleton to show. */
    none: string;
  };

/**
 * The skeleton of the flow a run ran, with what the run did there.
 *
 * @param store The store.
 * @param runId The run.
 * @param describe Loads the run's script's IR.
 * @returns The drawing, or why there is none; undefined for an unknown run.
 */
export async function runSkeleton(
  store: Store,
  runId: string,
  describe: Describe | undefined,
): Promise<RunSkeleton | undefined> {
  const run = await store.getRun(runId, { nodes: false });
  if (run === undefined) return undefined;
  if (run.script === undefined || describe === undefined) {
    return { none: "The run was a library call: its script, and so its skeleton, is not known." };
  }
  let dag;
  try {
    dag = await describe(run.script);
  } catch (e) {
    return { none: `The script could not be read now: ${(e as Error).message.split("\n")[0]}` };
  }
  const nodes = (await store.runNodes(runId))?.nodes ?? [];
  const seqs = new Map<string, number>();
  const found = runOverlay(dag, {
    entity: run.entity,
    kind: run.kind,
    status: run.status,
    nodes: nodes.map((n) => {
      // (Nodes are listed in the order added: a caller's calls in the order it made them.)
      const seq = seqs.get(n.parentId ?? "") ?? 0;
      seqs.set(n.parentId ?? "", seq + 1);
      return {
        id: n.id,
        parentId: n.parentId,
        seq,
        entity: n.entity,
        kind: n.kind,
        status: n.status,
        cachedFrom: n.cachedFrom,
      };
    }),
  });
  if (found === undefined) {
    return { none: `${run.entity} is not a flow: only a flow has a skeleton.` };
  }
  if ("missing" in found) return { none: `The script ${found.missing}.` };
  const { graph, marks, fits } = found;
  const section = await skeletonSection(graph, `skeleton of flow ${found.flow}`, 0, marks);
  return {
    svg: section.svg,
    width: section.width,
    height: section.height,
    fits,
    details: skeletonDetails(graph, marks),
  };
}
