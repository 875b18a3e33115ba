// The JSON Schemas in protocol-fixtures/schemas were written to describe what real Celery
// produces (test/unit/fixture-schemas.test.ts checks every captured fixture against them).
// Here the same schemas judge what Celeriac produces: task headers, properties and body
// from buildTaskMessage, the kombu Redis envelope, and result metas of every state, for
// every compat minor and for generated inputs.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CELERY_MINORS, compatProfile } from "../../../src/compat.js";
import { type BuildTaskInput, buildTaskMessage } from "../../../src/protocol/build.js";
import { errorToExcInfo } from "../../../src/protocol/exceptions.js";
import { buildGroupMeta, buildResultMeta } from "../../../src/protocol/result-meta.js";
import { ALL_STATES } from "../../../src/protocol/states.js";
import { serialize } from "../../../src/serialization/index.js";
import { buildEnvelope } from "../../../src/transports/redis/envelope.js";
import { FIXTURES_DIR } from "../../support/fixtures.js";

const ajv = new Ajv({ allErrors: true, strict: false });
const schemaDir = join(FIXTURES_DIR, "schemas");
for (const file of readdirSync(schemaDir).filter((f) => f.endsWith(".schema.json"))) {
  ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, file), "utf8")));
}

/** "" when valid, else ajv's error text (so a failure shows what is wrong). */
function schemaErrors(schemaId: string, value: unknown): string {
  const check = ajv.getSchema(schemaId);
  if (!check) throw new Error(`schema ${schemaId} is not in ${schemaDir}`);
  return check(value) ? "" : ajv.errorsText(check.errors, { separator: "\n" });
}

const signature = fc.record({
  task: fc.constantFrom("tasks.add", "ts.echo"),
  args: fc.array(fc.integer(), { maxLength: 3 }),
  kwargs: fc.dictionary(fc.constantFrom("a", "b"), fc.integer()),
  options: fc.constant({}),
  subtask_type: fc.constant(null),
  immutable: fc.boolean(),
});

const json = fc.jsonValue({ maxDepth: 2 });

/** Inputs covering every option buildTaskMessage takes that changes the message's shape. */
const taskInput: fc.Arbitrary<BuildTaskInput> = fc.record(
  {
    origin: fc.constant("gen1@host"),
    args: fc.array(json, { maxLength: 4 }),
    kwargs: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), json, { maxKeys: 3 }),
    countdown: fc.integer({ min: 0, max: 3600 }),
    expires: fc.oneof(fc.integer({ min: 1, max: 3600 }), fc.constant(new Date("2030-01-02T03:04:05.678Z"))),
    priority: fc.integer({ min: 0, max: 9 }),
    shadow: fc.string({ minLength: 1, maxLength: 10 }),
    timeLimit: fc.integer({ min: 1, max: 100 }),
    softTimeLimit: fc.integer({ min: 1, max: 100 }),
    groupId: fc.uuid(),
    groupIndex: fc.nat(10),
    parentId: fc.uuid(),
    retries: fc.nat(5),
    ignoreResult: fc.oneof(fc.boolean(), fc.constant(null)),
    headers: fc.dictionary(fc.constantFrom("x-tenant", "x-trace"), fc.string({ maxLength: 8 })),
    callbacks: fc.array(signature, { minLength: 1, maxLength: 2 }),
    errbacks: fc.array(signature, { minLength: 1, maxLength: 2 }),
    chain: fc.array(signature, { maxLength: 3 }),
    chord: signature,
    replyTo: fc.uuid(),
  },
  { requiredKeys: ["origin"] },
);

describe.each(CELERY_MINORS)("Celeriac's output passes Celery's schemas (compat %s)", (minor) => {
  const compat = compatProfile(minor);

  it("task headers, properties, body and the Redis envelope", () => {
    fc.assert(
      fc.property(taskInput, fc.constantFrom("json", "msgpack", "yaml"), (input, serializer) => {
        const message = buildTaskMessage("tasks.add", input, compat);
        expect(schemaErrors("celeriac:task-headers", message.headers)).toBe("");
        expect(schemaErrors("celeriac:task-properties", message.properties)).toBe("");
        expect(schemaErrors("celeriac:task-body", message.body)).toBe("");
        const body = serialize(message.body, serializer, { compat });
        const envelope = buildEnvelope({
          body: body.body,
          contentType: body.contentType,
          contentEncoding: body.contentEncoding,
          headers: message.headers as Record<string, unknown>,
          properties: message.properties as Record<string, unknown>,
          exchange: "",
          routingKey: "celery",
        });
        expect(schemaErrors("celeriac:redis-envelope", JSON.parse(JSON.stringify(envelope)))).toBe("");
      }),
      { numRuns: 150 },
    );
  });

  it.each([...ALL_STATES])("result meta in state %s, plain and extended", (status) => {
    const result =
      status === "FAILURE" || status === "RETRY" || status === "REVOKED"
        ? errorToExcInfo(new RangeError("bad value"))
        : status === "STARTED"
          ? { pid: 42, hostname: "w1@host" }
          : { value: [1, "two", null] };
    for (const extended of [false, true]) {
      const meta = buildResultMeta(
        {
          taskId: "aaaaaaaa-0000-4000-8000-000000000001",
          status,
          result,
          traceback: status === "FAILURE" ? "Traceback (most recent call last):\n" : null,
          request: {
            task: "tasks.add",
            args: [2, 3],
            kwargs: {},
            hostname: "w1@host",
            retries: 0,
            routingKey: "celery",
            group: "g1",
            parentId: "p1",
          },
          extended,
        },
        compat,
      );
      expect(schemaErrors("celeriac:result-meta", meta)).toBe("");
    }
  });

  it("group meta", () => {
    const meta = buildGroupMeta("g1", ["t1", "t2", "t3"]);
    expect(schemaErrors("celeriac:group-meta", meta)).toBe("");
  });
});

describe("the schemas can fail", () => {
  it("rejects a 2-element body and headers without an id", () => {
    expect(schemaErrors("celeriac:task-body", [[2, 3], {}])).not.toBe("");
    const message = buildTaskMessage("tasks.add", { origin: "gen1@host" }, compatProfile("5.7"));
    const { id: _id, ...withoutId } = message.headers;
    expect(schemaErrors("celeriac:task-headers", withoutId)).not.toBe("");
  });
});
