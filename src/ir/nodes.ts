/**
 * Walking the nodes of a static workflow in the IR: condition nodes hold
 * their branches' nodes, so a walk that must see every call goes into them.
 *
 * @module
 */

import type {
  DagCallNode,
  DagConditionNode,
  DagEntityRef,
  DagNode,
  DagWorkflow,
} from "../core/dag_format.ts";

/**
 * Whether a node is a condition (`ifElse`), which holds branches instead of calling an entity.
 *
 * @param node A node.
 * @returns True for a condition node.
 */
export function isConditionNode(node: DagNode): node is DagConditionNode {
  return "if" in node;
}

/**
 * Every node of a list and of the branches of its conditions, depth first
 * (a condition before its branches' nodes, then's before else's).
 *
 * @param nodes A workflow's (or a branch's) nodes.
 * @returns The nodes.
 */
export function everyNode(nodes: readonly DagNode[]): DagNode[] {
  const out: DagNode[] = [];
  const walk = (list: readonly DagNode[]): void => {
    for (const n of list) {
      out.push(n);
      if (isConditionNode(n)) {
        walk(n.if.then.nodes);
        walk(n.if.else.nodes);
      }
    }
  };
  walk(nodes);
  return out;
}

/**
 * Every node that calls an entity, in a list and in the branches of its conditions.
 *
 * @param nodes A workflow's (or a branch's) nodes.
 * @returns The call nodes, depth first.
 */
export function callNodes(nodes: readonly DagNode[]): DagCallNode[] {
  return everyNode(nodes).filter((n): n is DagCallNode => !isConditionNode(n));
}

/**
 * What a workflow of a document may run: a static workflow's calls (in its
 * branches too), a flow's `calls`, and the onFailure handler of either.
 *
 * @param wf The workflow.
 * @returns The references.
 */
export function workflowRefs(wf: DagWorkflow): DagEntityRef[] {
  const refs = wf.kind === "static" ? callNodes(wf.nodes).map((n) => n.entity) : [...wf.calls];
  if (wf.onFailure !== undefined) refs.push(wf.onFailure);
  return refs;
}
