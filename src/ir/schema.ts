/**
 * The JSON Schema (draft 2020-12) of the `weft.dag/v1` IR, as a module so
 * that it travels with weft when weft is imported by URL. `weft schema`
 * prints it; `fromDag` checks documents against it before reading them.
 *
 * It follows `DagDocument` (in `ir.ts`) field by field: objects admit no other
 * properties, bindings are exactly one of five tagged shapes, and a workflow
 * is static (nodes and edges) or dynamic (the entities it may call, and
 * its skeleton when it was extracted). Skeletons were added to v1 without
 * changing a field that was there: a v1 reader that does not know them may
 * ignore them, and documents without them are still valid, so the format
 * stays `weft.dag/v1`.
 *
 * @module
 */

/** A JSON Schema document as plain, read-only data. */
export type DagJsonSchema = { readonly [key: string]: unknown };

/** The `$id` of {@linkcode DAG_SCHEMA}. */
export const DAG_SCHEMA_ID = "urn:weft:schema:weft.dag:v1";

const name = { type: "string", minLength: 1 };
const names = { type: "array", items: { $ref: "#/$defs/name" } };
/** Tagged JSON (see `toJsonTree`): any JSON value. */
const value = { description: "A value as tagged JSON ($date, $bigint, $map… for non-JSON types)" };

/** What a workflow or flow says about failures and time. */
function controlProperties(): Record<string, unknown> {
  return {
    onFailure: {
      $ref: "#/$defs/entityRef",
      description: "What runs with { error, inputs } when it fails.",
    },
    failurePolicy: { enum: ["fail-fast", "finish-running"] },
    timeoutMs: { type: "number", exclusiveMinimum: 0 },
  };
}

function after(): Record<string, unknown> {
  return {
    ...names,
    uniqueItems: true,
    description: "Nodes it starts after, though it takes no value from them.",
  };
}

function object(
  required: string[],
  properties: Record<string, unknown>,
  description?: string,
): Record<string, unknown> {
  return {
    type: "object",
    ...(description === undefined ? {} : { description }),
    required,
    properties,
    additionalProperties: false,
  };
}

/** Outputs bound by name: a static workflow's, or a branch's (the condition's outputs). */
function outputBindings(): Record<string, unknown> {
  return {
    type: "array",
    items: object(["name", "binding"], {
      name: { $ref: "#/$defs/name" },
      binding: { $ref: "#/$defs/binding" },
    }),
  };
}

/** One kind of skeleton zone: when `kind` is `kind`, exactly these fields (and `line`). */
function zoneCase(
  kind: string,
  required: string[],
  properties: Record<string, unknown>,
): Record<string, unknown> {
  return {
    if: { properties: { kind: { const: kind } } },
    then: object(["kind", ...required, "line"], {
      kind: { const: kind },
      ...properties,
      line: { type: "integer", minimum: 1 },
    }),
  };
}

const schema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: DAG_SCHEMA_ID,
  title: "weft.dag/v1",
  description:
    "The static description of weft workflows, flows, launch plans and tasks, as `weft compile` prints it.",
  ...object(["format", "workflows", "launchPlans", "tasks"], {
    format: { const: "weft.dag/v1", description: "The format tag and version." },
    workflows: {
      type: "array",
      items: { $ref: "#/$defs/workflow" },
      description: "Workflows and flows, sorted by name.",
    },
    launchPlans: {
      type: "array",
      items: { $ref: "#/$defs/launchPlan" },
      description: "Launch plans, sorted by name.",
    },
    tasks: {
      type: "array",
      items: { $ref: "#/$defs/task" },
      description: "The task table, sorted by name.",
    },
  }),
  $defs: {
    name,
    source: {
      description: "Where an entity was defined, or null when unknown.",
      oneOf: [
        { type: "null" },
        object(["file", "line"], {
          file: { type: "string", minLength: 1 },
          line: { type: "integer", minimum: 1 },
        }),
      ],
    },
    entityRef: object(
      ["kind", "name"],
      { kind: { enum: ["task", "workflow", "launchPlan"] }, name: { $ref: "#/$defs/name" } },
      "A reference to a task, a workflow or flow (in `workflows`), or a launch plan.",
    ),
    binding: {
      description:
        "How a value is given: a workflow input, a node output, a constant, or an array or object of bindings.",
      oneOf: [
        object(["input"], { input: { $ref: "#/$defs/name" } }),
        object(["node", "output"], {
          node: { $ref: "#/$defs/name" },
          output: { $ref: "#/$defs/name" },
        }),
        object(["value"], { value }),
        object(["array"], { array: { type: "array", items: { $ref: "#/$defs/binding" } } }),
        object(["object"], {
          object: { type: "object", additionalProperties: { $ref: "#/$defs/binding" } },
        }),
      ],
    },
    input: object(["name", "type", "optional"], {
      name: { $ref: "#/$defs/name" },
      type: { type: "string", description: "The type as written, such as `number[]`." },
      schema: { type: ["object", "boolean"], description: "The type as JSON Schema." },
      optional: { type: "boolean" },
      default: value,
    }),
    retries: {
      description: "Retries after a failure: a count, or `unlimited`.",
      oneOf: [{ type: "integer", minimum: 0 }, { const: "unlimited" }],
    },
    overrides: object([], {
      name: { $ref: "#/$defs/name" },
      retries: { $ref: "#/$defs/retries" },
      timeoutMs: { type: "number", exclusiveMinimum: 0 },
      cache: { type: "boolean" },
      queue: { type: "string", minLength: 1 },
    }, "What `entity.with({…})` changed for one call."),
    map: object(
      ["over", "concurrency", "minSuccessRatio"],
      {
        over: { ...names, minItems: 1, uniqueItems: true },
        concurrency: { type: ["integer", "null"], minimum: 1 },
        minSuccessRatio: { type: "number", minimum: 0, maximum: 1 },
        name: { $ref: "#/$defs/name" },
        map: { $ref: "#/$defs/map" },
      },
      "A map node: its entity runs once per element of the lists bound to `over`; its outputs are lists.",
    ),
    node: {
      description: "A node: a call of an entity, or a condition (ifElse) holding its branches.",
      oneOf: [{ $ref: "#/$defs/callNode" }, { $ref: "#/$defs/conditionNode" }],
    },
    callNode: object(["id", "entity", "bindings"], {
      id: { $ref: "#/$defs/name" },
      entity: { $ref: "#/$defs/entityRef" },
      bindings: { type: "object", additionalProperties: { $ref: "#/$defs/binding" } },
      overrides: { $ref: "#/$defs/overrides" },
      after: after(),
      map: { $ref: "#/$defs/map" },
    }, "A node that calls a task, a workflow or flow, or a launch plan (or maps one over lists)."),
    conditionNode: object(["id", "bindings", "if"], {
      id: { $ref: "#/$defs/name" },
      bindings: {
        type: "object",
        additionalProperties: { $ref: "#/$defs/binding" },
        description: "The test's operands (c0, c1, …).",
      },
      if: object(["test", "then", "else", "outputs"], {
        test: { $ref: "#/$defs/test" },
        then: { $ref: "#/$defs/branch" },
        else: { $ref: "#/$defs/branch" },
        outputs: { ...names, minItems: 1, uniqueItems: true },
      }),
      after: after(),
    }, "A condition (ifElse): the branch its test chooses runs, the other is recorded as skipped."),
    test: {
      description: "A condition's test over its operands.",
      oneOf: [
        object(["op", "args"], {
          op: { enum: ["eq", "ne", "gt", "ge", "lt", "le"] },
          args: { ...names, minItems: 2, maxItems: 2 },
        }),
        object(["op", "args"], {
          op: { enum: ["and", "or"] },
          args: { type: "array", items: { $ref: "#/$defs/test" }, minItems: 1 },
        }),
        object(["op", "args"], {
          op: { const: "not" },
          args: { type: "array", items: { $ref: "#/$defs/test" }, minItems: 1, maxItems: 1 },
        }),
        object(["op", "args"], {
          op: { const: "truthy" },
          args: { ...names, minItems: 1, maxItems: 1 },
        }),
      ],
    },
    branch: object(["nodes", "outputs"], {
      nodes: { type: "array", items: { $ref: "#/$defs/node" } },
      outputs: outputBindings(),
    }, "A branch of a condition: its nodes, and the condition's outputs when it runs."),
    edge: object(
      ["from", "output", "to", "input"],
      {
        from: { $ref: "#/$defs/name" },
        output: { $ref: "#/$defs/name" },
        to: { $ref: "#/$defs/name" },
        input: { $ref: "#/$defs/name" },
      },
      "An output (of a node, or `$inputs` for a workflow input) feeding an input (of a node, or `$outputs` for a workflow output).",
    ),
    workflow: {
      type: "object",
      required: ["kind"],
      properties: { kind: { enum: ["static", "dynamic"] } },
      if: { properties: { kind: { const: "static" } } },
      then: { $ref: "#/$defs/staticWorkflow" },
      else: { $ref: "#/$defs/dynamicWorkflow" },
    },
    staticWorkflow: object(
      ["name", "kind", "inputs", "outputs", "nodes", "edges", "source"],
      {
        name: { $ref: "#/$defs/name" },
        kind: { const: "static" },
        inputs: { type: "array", items: { $ref: "#/$defs/input" } },
        outputs: outputBindings(),
        nodes: {
          type: "array",
          items: { $ref: "#/$defs/node" },
          description: "In a topological order.",
        },
        edges: { type: "array", items: { $ref: "#/$defs/edge" } },
        source: { $ref: "#/$defs/source" },
        ...controlProperties(),
      },
      "A workflow whose graph is known before it runs.",
    ),
    dynamicWorkflow: object(
      ["name", "kind", "inputs", "outputs", "calls", "source"],
      {
        name: { $ref: "#/$defs/name" },
        kind: { const: "dynamic" },
        inputs: { type: "array", items: { $ref: "#/$defs/input" } },
        outputs: { type: "array", items: object(["name"], { name: { $ref: "#/$defs/name" } }) },
        calls: {
          type: "array",
          items: { $ref: "#/$defs/entityRef" },
          description:
            "What the flow may call: its `tasks` option; else what its skeleton calls; else (the skeleton has an unknown call) that and every task of its module.",
        },
        callsFrom: {
          enum: ["tasks", "skeleton", "module"],
          description:
            "Where `calls` comes from: the `tasks` option, the skeleton, or the skeleton plus the module's tasks.",
        },
        skeleton: {
          type: "array",
          items: { $ref: "#/$defs/zone" },
          description:
            "The flow's static skeleton, read from its source: calls, loops, branches, try blocks, waits, exits, helpers and what cannot be known.",
        },
        source: { $ref: "#/$defs/source" },
        ...controlProperties(),
      },
      "A flow: its graph grows while it runs.",
    ),
    zones: { type: "array", items: { $ref: "#/$defs/zone" } },
    ids: { type: "array", items: { type: "string", pattern: "^c[0-9]+$" } },
    zone: {
      type: "object",
      required: ["kind"],
      properties: {
        kind: {
          enum: ["call", "loop", "branch", "switch", "try", "wait", "exit", "helper", "unknown"],
        },
      },
      description: "A zone of a flow's skeleton; `line` is the line in the flow's module.",
      allOf: [
        zoneCase("call", ["entity", "id", "from"], {
          entity: { $ref: "#/$defs/entityRef" },
          id: { type: "string", pattern: "^c[0-9]+$" },
          from: { $ref: "#/$defs/ids" },
        }),
        zoneCase("loop", ["loop", "condition", "test", "waits", "carries", "body"], {
          loop: { enum: ["while", "do", "for", "for-of", "for-in", "each"] },
          condition: { type: "string" },
          test: { $ref: "#/$defs/zones" },
          waits: { $ref: "#/$defs/ids" },
          carries: { type: "array", items: { type: "string" } },
          body: { $ref: "#/$defs/zones" },
          label: { type: "string" },
        }),
        zoneCase("branch", ["condition", "waits", "then", "else"], {
          condition: { type: "string" },
          waits: { $ref: "#/$defs/ids" },
          then: { $ref: "#/$defs/zones" },
          else: { $ref: "#/$defs/zones" },
        }),
        zoneCase("switch", ["condition", "waits", "cases"], {
          condition: { type: "string" },
          waits: { $ref: "#/$defs/ids" },
          cases: {
            type: "array",
            items: object(["test", "body", "fallsThrough"], {
              test: { type: ["string", "null"] },
              body: { $ref: "#/$defs/zones" },
              fallsThrough: { type: "boolean" },
            }),
          },
        }),
        zoneCase("try", ["body"], {
          body: { $ref: "#/$defs/zones" },
          catch: { $ref: "#/$defs/zones" },
          finally: { $ref: "#/$defs/zones" },
        }),
        zoneCase("wait", ["mode", "on"], {
          mode: { enum: ["wait", "all", "race", "sleep", "signal", "yield", "await"] },
          on: { $ref: "#/$defs/ids" },
        }),
        zoneCase("exit", ["exit", "from"], {
          exit: { enum: ["return", "break", "continue", "throw"] },
          label: { type: "string" },
          from: { $ref: "#/$defs/ids" },
        }),
        zoneCase("helper", ["name", "body"], {
          name: { type: "string" },
          body: { $ref: "#/$defs/zones" },
        }),
        zoneCase("unknown", ["source", "reason"], {
          source: { type: "string" },
          reason: { type: "string" },
        }),
      ],
    },
    permissions: object([], {
      read: { $ref: "#/$defs/permission" },
      write: { $ref: "#/$defs/permission" },
      net: { $ref: "#/$defs/permission" },
      env: { $ref: "#/$defs/permission" },
      run: { $ref: "#/$defs/permission" },
      ffi: { $ref: "#/$defs/permission" },
      sys: { $ref: "#/$defs/permission" },
      import: { $ref: "#/$defs/permission" },
    }, "The Deno permissions a task declares."),
    permission: {
      oneOf: [
        { const: true },
        { type: "array", items: { type: "string", minLength: 1 }, uniqueItems: true },
      ],
    },
    task: object(
      [
        "name",
        "params",
        "outputs",
        "retries",
        "retryDelayMs",
        "timeoutMs",
        "concurrency",
        "cache",
        "version",
        "permissions",
        "source",
      ],
      {
        name: { $ref: "#/$defs/name" },
        params: {
          type: "array",
          items: object(["name", "optional"], {
            name: { $ref: "#/$defs/name" },
            optional: { type: "boolean" },
            default: value,
          }),
        },
        outputs: { ...names, uniqueItems: true },
        retries: { $ref: "#/$defs/retries" },
        retryDelayMs: { type: "number", minimum: 0 },
        backoff: { type: "number", minimum: 1 },
        maxRetryDelayMs: { type: "number", minimum: 0 },
        jitter: { type: "number", minimum: 0, maximum: 1 },
        retryDeadlineMs: { type: ["number", "null"], exclusiveMinimum: 0 },
        retryIf: {
          type: "boolean",
          description: "Whether a predicate (code) decides which errors are retried.",
        },
        nonRetryable: { ...names, description: "Error class names never retried." },
        timeoutMs: { type: ["number", "null"], exclusiveMinimum: 0 },
        concurrency: { type: ["integer", "null"], minimum: 1 },
        cache: { type: "boolean" },
        cacheIgnore: { ...names, description: "Inputs left out of the cache key." },
        queue: { type: ["string", "null"], minLength: 1 },
        version: { type: ["string", "null"] },
        permissions: { $ref: "#/$defs/permissions" },
        source: { $ref: "#/$defs/source" },
      },
    ),
    launchPlan: object(["name", "entity", "defaults", "fixed"], {
      name: { $ref: "#/$defs/name" },
      entity: { $ref: "#/$defs/entityRef" },
      defaults: { type: "object", additionalProperties: value },
      fixed: { type: "object", additionalProperties: value },
      schedule: object(["cron", "timezone", "everyMs", "overlap", "catchUp"], {
        cron: { type: ["string", "null"] },
        timezone: { type: "string" },
        everyMs: { type: ["number", "null"], exclusiveMinimum: 0 },
        overlap: { enum: ["skip", "queue", "allow"] },
        catchUp: { type: "integer", minimum: 0 },
      }, "When weft serve starts the launch plan by itself."),
    }),
  },
};

function deepFreeze<T>(x: T): T {
  if (typeof x === "object" && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/**
 * The JSON Schema (draft 2020-12) of a `DagDocument`: what
 * `weft schema` prints. Frozen.
 *
 * @example Validate a compiled workflow with ajv
 * ```ts
 * import { task, workflow } from "@weft/weft";
 * import { DAG_SCHEMA } from "@weft/weft/ir";
 * import { Ajv2020 } from "npm:ajv@8.17.1/dist/2020.js";
 * import assert from "node:assert/strict";
 *
 * const inc = task(function inc(x: number) { return x + 1; });
 * const twice = workflow(function twice(x: number) { return inc(inc(x)); });
 * const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(DAG_SCHEMA);
 * assert.ok(validate(twice.graph));
 * assert.ok(!validate({ ...twice.graph, format: "weft.dag/v0" }));
 * ```
 */
export const DAG_SCHEMA: DagJsonSchema = deepFreeze(schema);
