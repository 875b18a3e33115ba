/**
 * The golden corpus (protocol-fixtures/<minor>/, written by real Celery 5.2–5.7,
 * format in protocol-fixtures/README.md): for every task-message, result-meta
 * and group-meta fixture of every minor, TS builds the same thing from the
 * recorded inputs with `compatProfile(minor)` and must equal Celery's output
 * after normalization, key order included; and TS parses Celery's output back.
 *
 * What is taken from the recording rather than computed here, because another
 * layer owns it: the canvas embed of group/chain/chord members (frozen
 * signature options are canvas's job; the chain order IS rebuilt here), the
 * chord's generated group id, and the `compression` header kombu adds.
 */
import { describe, expect, it } from "vitest";
import { CELERY_MINORS, type CompatProfile, compatProfile } from "../../../src/compat.js";
import { TaskRevokedError } from "../../../src/errors.js";
import { type BuildTaskInput, buildTaskMessage } from "../../../src/protocol/build.js";
import { errorToExcInfo } from "../../../src/protocol/exceptions.js";
import { parseTaskMessage } from "../../../src/protocol/parse.js";
import {
  asyncResultTuple,
  buildGroupMeta,
  buildResultMeta,
  groupResultTuple,
  parseGroupMeta,
  parseResultMeta,
  type ResultRequestInfo,
  type ResultTuple,
  startedResult,
} from "../../../src/protocol/result-meta.js";
import type { SignatureDict, TaskMessage } from "../../../src/protocol/task-message.js";
import { compressionMime, jsonDumps, PyDateTime } from "../../../src/serialization/index.js";
import {
  type FixtureKind,
  type FixtureRecord,
  getAtPointer,
  isErrorOutput,
  loadFixtures,
  normalize,
  normalizeRawJson,
  parsePointer,
  rulesUnder,
} from "../../support/fixtures.js";

const NOW = new Date("2026-11-24T08:08:25.174Z");
const ORIGIN = "gen4242@corpus";
/** The capture app's fixed `app.thread_oid` (python-interop/capture/fixture_tasks.py THREAD_OID): a retry reuses the request's reply_to. */
const CAPTURE_THREAD_OID = "0f0e0d0c-0b0a-3999-8888-777766665555";
/**
 * `$unserializable` marks an object JSON can't carry; Celery's ensure_serializable stores its
 * repr, which fixture_tasks.Unserializable defines as "Unserializable()". A TS task would pass the
 * string it wants stored (errorToExcInfo stringifies functions/symbols the same way).
 */
const UNSERIALIZABLE_REPR = "Unserializable()";

type Json = Record<string, unknown>;

type Fixture = FixtureRecord & { input: Json; output: Json };

function load(minor: (typeof CELERY_MINORS)[number], kind: FixtureKind): [string, Fixture][] {
  return loadFixtures(minor, kind).map((f) => [f.file.slice(kind.length + 1), f as unknown as Fixture]);
}

/**
 * For parsing Celery's recorded output: put our real values back where the
 * fixture holds "<FORMAT>" placeholders (pointers relative to `root`).
 */
function denormalize<T>(fixtureValue: T, ours: unknown, formats: Record<string, string>, root: string): T {
  const copy = structuredClone(fixtureValue);
  for (const pointer of Object.keys(rulesUnder(formats, root))) {
    const tokens = parsePointer(pointer);
    const last = tokens.pop() as string;
    const parentPointer = tokens.map((t) => `/${t.replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
    const target = getAtPointer(copy, parentPointer) as Json;
    target[last] = (getAtPointer(ours, parentPointer) as Json)[last];
  }
  return copy;
}

/** Input values: `{"$datetime": iso}` is a Python datetime (kept exact as PyDateTime). */
function fromInput(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromInput);
  if (value !== null && typeof value === "object") {
    const obj = value as Json;
    if (typeof obj.$datetime === "string") return new PyDateTime(obj.$datetime);
    if (obj.$unserializable !== undefined) return UNSERIALIZABLE_REPR;
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fromInput(v)]));
  }
  return value === "$unserializable" ? UNSERIALIZABLE_REPR : value;
}

/** What the recording's `decoded` view shows for a value: PyDateTime as `{"$datetime": …}` (yaml/msgpack). */
function taggedView(value: unknown): unknown {
  if (value instanceof PyDateTime) return { $datetime: value.value };
  if (Array.isArray(value)) return value.map(taggedView);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, taggedView(v)]));
  }
  return value;
}

function signatureOf(step: Json, options: Json): SignatureDict {
  return {
    task: step.task as string,
    args: step.args as unknown[],
    kwargs: step.kwargs as Json,
    options,
    subtask_type: null,
    immutable: step.immutable as boolean,
  };
}

function recordedBody(f: Fixture): [unknown[], Json, Json] {
  const message = f.output.message as Json;
  return (message.body as Json).decoded as [unknown[], Json, Json];
}

/** The as_task_v2 inputs apply_async/send_task/canvas/retry resolved for this fixture. */
function buildInput(f: Fixture, compat: CompatProfile): { name: string; input: BuildTaskInput } {
  const i = f.input;
  const app = i.app as Json;
  const opts = fromInput(i.options ?? {}) as Json;
  const base: BuildTaskInput = {
    origin: ORIGIN,
    replyTo: (app.thread_oid as string | undefined) ?? CAPTURE_THREAD_OID,
    now: NOW,
    // apply_async passes the task's boolean; send_task passes None unless given.
    ignoreResult:
      i.call === "send_task"
        ? (opts.ignore_result as boolean | undefined)
        : ((opts.ignore_result as boolean) ?? false),
  };
  if (i.call === "group" || i.call === "chord" || i.call === "chain") {
    const steps = i.steps as Json[];
    const index = i.call === "chain" ? 0 : ((i.memberIndex as number | undefined) ?? 0);
    const step = steps[index] as Json;
    const stepOptions = step.options as Json;
    const input: BuildTaskInput = {
      ...base,
      id: stepOptions.task_id as string,
      args: step.args as unknown[],
    };
    if (i.call === "group") {
      input.groupId = opts.task_id as string;
      input.groupIndex = compat.groupIndex ? index : null;
    } else if (i.call === "chord") {
      input.groupId = (i.generatedIds as string[])[0] as string;
      input.groupIndex = index;
      const body = i.body as Json;
      input.chord = isErrorOutput(f.output)
        ? signatureOf(body, { ...(body.options as Json), reply_to: app.thread_oid })
        : (recordedBody(f)[2].chord as SignatureDict);
    } else {
      // celery/canvas.py _chain.run: the remaining steps, frozen (task_id + reply_to), in reverse order.
      input.chain = steps
        .slice(1)
        .reverse()
        .map((s) => signatureOf(s, { ...(s.options as Json), reply_to: app.thread_oid }));
    }
    return { name: step.task as string, input };
  }
  const input: BuildTaskInput = {
    ...base,
    id: opts.task_id as string,
    args: fromInput(i.args) as unknown[],
    kwargs: fromInput(i.kwargs) as Json,
  };
  if (opts.countdown !== undefined) input.countdown = opts.countdown as number;
  if (opts.eta !== undefined) input.eta = opts.eta as PyDateTime;
  if (opts.expires !== undefined) input.expires = opts.expires as number | PyDateTime;
  if (opts.priority !== undefined) input.priority = opts.priority as number;
  // apply_async(queue=...) keeps the task's None priority all the way to Producer.publish.
  if (opts.queue !== undefined) input.priority = null;
  if (opts.shadow !== undefined) input.shadow = opts.shadow as string;
  if (opts.time_limit !== undefined) input.timeLimit = opts.time_limit as number;
  if (opts.soft_time_limit !== undefined) input.softTimeLimit = opts.soft_time_limit as number;
  if (opts.parent_id !== undefined) input.parentId = opts.parent_id as string;
  if (opts.root_id !== undefined) input.rootId = opts.root_id as string;
  if (opts.headers !== undefined) input.headers = opts.headers as Json;
  if (opts.link !== undefined)
    input.callbacks = (opts.link as Json[]).map((s) => signatureOf(s, s.options as Json));
  if (opts.link_error !== undefined) {
    input.errbacks = (opts.link_error as Json[]).map((s) => signatureOf(s, s.options as Json));
  }
  if (i.call === "retry") {
    // Task.retry(): same id, retries + 1, sent from inside the task (parent = itself), eta = now + countdown,
    // and the request's origin carried as a leftover property.
    const retry = i.retry as Json;
    input.retries = 1;
    input.parentId = input.id ?? null;
    input.countdown = retry.countdown as number;
    input.priority = 0;
    // 5.2's as_task_v2 has no replaced_task_nesting parameter, so the option Task.retry passes
    // falls through to the properties (send_task_message: properties.update(kwargs)), before origin.
    input.extraProperties = compat.replacedTaskNesting
      ? { origin: ORIGIN }
      : { replaced_task_nesting: 0, origin: ORIGIN };
  }
  return { name: i.task as string, input };
}

function checkBody(f: Fixture, message: TaskMessage, compat: CompatProfile): void {
  const body = (f.output.message as Json).body as Json;
  const serializer = (f.input.app as Json).task_serializer as string;
  if (serializer === "json") {
    expect(jsonDumps(message.body, { typeMarkers: compat.jsonTypeMarkers })).toBe(body.text);
  } else {
    expect(taggedView(message.body)).toEqual(body.decoded);
  }
}

for (const minor of CELERY_MINORS) {
  const compat = compatProfile(minor);

  describe(`task-message corpus, Celery ${minor}`, () => {
    const fixtures = load(minor, "task-message");
    it("has fixtures", () => expect(fixtures.length).toBeGreaterThan(0));

    for (const [file, f] of fixtures) {
      it(`${file}: build equals Celery's message, and parse reads it`, () => {
        const { name, input } = buildInput(f, compat);
        const built = buildTaskMessage(name, input, compat);
        if (isErrorOutput(f.output)) {
          // Celery's serializer refused the body (msgpack: datetime; PyYAML: a Signature is a dict
          // subclass it won't represent). Nothing for the protocol layer to refuse: the message is
          // well-formed and reads back. Whether to mimic the refusal is the serializer's call.
          expect((f.output.error as Json).type).toBe("EncodeError");
          expect(
            parseTaskMessage({ headers: built.headers, properties: built.properties, payload: built.body })
              .id,
          ).toBe(input.id);
          return;
        }
        const recorded = f.output.message as Json;
        const headers: Json = { ...built.headers };
        // kombu's Producer._prepare appends the compression MIME type when it compressed
        // (the 5.2 capture did not compress: its recorded body has compression null).
        const compression = (f.input.app as Json).task_compression as string | null;
        const compressed = ((recorded.body as Json).compression as string | null) !== null;
        if (compression && compressed) headers.compression = compressionMime(compression);
        const normalizedHeaders = normalize(headers, rulesUnder(f.formats, "/message/headers"));
        expect(normalizedHeaders).toEqual(recorded.headers);
        expect(Object.keys(normalizedHeaders)).toEqual(Object.keys(recorded.headers as Json));

        const { priority, ...properties } = built.properties;
        const normalizedProperties = normalize(properties, rulesUnder(f.formats, "/message/properties"));
        expect(normalizedProperties).toEqual(recorded.properties);
        expect(Object.keys(normalizedProperties)).toEqual(Object.keys(recorded.properties as Json));
        expect(priority).toBe(recorded.priority);
        checkBody(f, built, compat);

        // Parse Celery's message (our real values put back where it holds placeholders).
        const rawHeaders = denormalize(recorded.headers as Json, headers, f.formats, "/message/headers");
        const rawProperties = denormalize(
          recorded.properties as Json,
          properties,
          f.formats,
          "/message/properties",
        );
        const payload = (recorded.body as Json).decoded as unknown[];
        const req = parseTaskMessage({
          headers: rawHeaders,
          properties: { ...rawProperties, priority },
          payload,
        });
        const custom = Object.fromEntries(
          Object.entries(input.headers ?? {}).filter(([k]) => !["retries"].includes(k)),
        );
        expect({
          protocol: req.protocol,
          id: req.id,
          name: req.name,
          shadow: req.shadow,
          args: req.args,
          kwargs: req.kwargs,
          group: req.group,
          groupIndex: req.groupIndex,
          rootId: req.rootId,
          parentId: req.parentId,
          retries: req.retries,
          timeLimit: req.timeLimit,
          ignoreResult: req.ignoreResult,
          replyTo: req.replyTo,
          correlationId: req.correlationId,
          priority: req.priority,
          headers: req.headers,
          callbacks: req.callbacks,
          errbacks: req.errbacks,
          chain: req.chain,
          chord: req.chord,
          eta: req.eta?.getTime() ?? null,
        }).toEqual({
          protocol: "v2",
          id: input.id,
          name,
          shadow: input.shadow ?? null,
          args: payload[0],
          kwargs: payload[1],
          group: input.groupId ?? null,
          groupIndex: input.groupIndex ?? null,
          rootId: input.rootId ?? input.id,
          parentId: input.parentId ?? null,
          retries: input.retries ?? 0,
          timeLimit: [input.timeLimit ?? null, input.softTimeLimit ?? null],
          ignoreResult:
            input.ignoreResult === undefined
              ? compat.ignoreResultNullDefault
                ? null
                : false
              : input.ignoreResult,
          replyTo: input.replyTo,
          correlationId: input.id,
          priority: input.priority === undefined ? 0 : input.priority,
          headers: custom,
          callbacks: input.callbacks ?? null,
          errbacks: input.errbacks ?? null,
          chain: input.chain ?? null,
          chord: input.chord ?? null,
          eta:
            typeof input.countdown === "number"
              ? NOW.getTime() + input.countdown * 1000
              : input.eta instanceof PyDateTime
                ? input.eta.toDate().getTime()
                : null,
        });
        expect(req.argsrepr).toBe((recorded.headers as Json).argsrepr);
      });
    }
  });

  describe(`result-meta corpus, Celery ${minor}`, () => {
    const fixtures = load(minor, "result-meta");
    it("has fixtures", () => expect(fixtures.length).toBeGreaterThan(0));

    for (const [file, f] of fixtures) {
      it(`${file}: build equals the stored meta byte for byte, and parse reads it`, () => {
        const meta = buildResultMeta(resultMetaInput(f), compat);
        const recorded = f.output.meta as Json;
        // The exact stored value: kombu JSON of our meta, normalized textually like the capture.
        const dumped = jsonDumps(meta, { typeMarkers: compat.jsonTypeMarkers });
        const stored = normalizeRawJson(dumped, rulesUnder(f.formats, "/meta"));
        expect(JSON.parse(stored)).toEqual(recorded);
        expect(Object.keys(JSON.parse(stored))).toEqual(Object.keys(recorded));
        expect(stored).toBe(f.output.raw);

        const parsed = parseResultMeta(denormalize(recorded, meta, f.formats, "/meta"));
        expect([parsed.taskId, parsed.status, parsed.traceback]).toEqual([
          f.input.task_id,
          meta.status,
          meta.traceback,
        ]);
        expect(parsed.dateDone === null).toBe(meta.date_done === null);
        if (["FAILURE", "RETRY", "REVOKED"].includes(meta.status))
          expect(parsed.exception).toEqual(meta.result);
      });
    }
  });

  describe(`group-meta corpus, Celery ${minor}`, () => {
    for (const [file, f] of load(minor, "group-meta")) {
      it(`${file}: build equals GroupResult.save()'s value, and parse reads it`, () => {
        const children = (f.input.children as (string | Json)[]).map((c): string | ResultTuple =>
          typeof c === "string" ? c : groupResultTuple(c.group as string, c.results as string[]),
        );
        const meta = buildGroupMeta(f.input.group_id as string, children);
        expect(meta).toEqual(f.output.meta);
        expect(jsonDumps(meta, { typeMarkers: compat.jsonTypeMarkers })).toBe(f.output.raw);
        const parsed = parseGroupMeta(f.output.meta);
        expect(parsed.groupId).toBe(f.input.group_id);
        expect(parsed.children.map((c) => c.id)).toEqual(
          (f.input.children as (string | Json)[]).map((c) => (typeof c === "string" ? c : c.group)),
        );
      });
    }
  });
}

const TRACEBACK =
  'Traceback (most recent call last):\n  File "tasks.py", line 3, in fail\nValueError: bad value\n';

/** What the worker/backend call recorded in the fixture passes to `_get_result_meta`. */
function resultMetaInput(f: Fixture): Parameters<typeof buildResultMeta>[0] {
  const i = f.input;
  const app = i.app as Json;
  const r = i.request as Json | undefined;
  const request: ResultRequestInfo | null = r
    ? {
        task: r.task as string,
        args: r.args as unknown[],
        kwargs: r.kwargs as Json,
        hostname: r.hostname as string,
        retries: r.retries as number,
        routingKey: ((r.delivery_info as Json | undefined)?.routing_key as string | undefined) ?? null,
        group: (r.group as string | undefined) ?? null,
        parentId: (r.parent_id as string | undefined) ?? null,
      }
    : null;
  const exception = () => {
    const e = i.exception as Json;
    const err = Object.assign(new Error(), {
      excType: e.type,
      excModule: e.module,
      args: fromInput(e.args) as unknown[],
    });
    return errorToExcInfo(err);
  };
  const base = { taskId: i.task_id as string, request, extended: app.result_extended as boolean, now: NOW };
  switch (i.call) {
    case "mark_as_done":
      return { ...base, status: "SUCCESS", result: fromInput(i.result) };
    case "mark_as_failure":
      return { ...base, status: "FAILURE", result: exception(), traceback: i.traceback as string };
    case "mark_as_retry":
      return { ...base, status: "RETRY", result: exception(), traceback: i.traceback as string };
    case "mark_as_revoked":
      return { ...base, status: "REVOKED", result: errorToExcInfo(new TaskRevokedError(i.reason as string)) };
    case "mark_as_started":
      return {
        ...base,
        status: "STARTED",
        result: startedResult(i.meta as { pid: number; hostname: string }),
      };
    case "store_result":
      return { ...base, status: i.state as string, result: fromInput(i.result) };
    case "worker":
      return workerOutcome(f, base);
    default:
      throw new Error(`unknown result-meta call ${String(i.call)}`);
  }
}

/** The fixture app's tasks (python-interop capture): add sums, fail raises ValueError, retry_once retries. */
function workerOutcome(
  f: Fixture,
  base: { taskId: string; extended: boolean; now: Date },
): Parameters<typeof buildResultMeta>[0] {
  const i = f.input;
  const request = {
    task: i.task as string,
    args: i.args as unknown[],
    kwargs: i.kwargs as Json,
    hostname: i.worker as string,
  };
  switch (i.task) {
    case "tasks.add":
      return { ...base, request, status: "SUCCESS", result: (i.args as number[]).reduce((a, b) => a + b, 0) };
    case "tasks.fail":
      return {
        ...base,
        request,
        status: "FAILURE",
        result: errorToExcInfo(
          Object.assign(new Error("bad value"), { excType: "ValueError", args: ["bad value", 7] }),
        ),
        traceback: TRACEBACK,
      };
    case "tasks.retry_once":
      return {
        ...base,
        request,
        status: "RETRY",
        result: errorToExcInfo(Object.assign(new Error("transient"), { excType: "KeyError" })),
        traceback: TRACEBACK,
        // The retry message is added to the task's own trail.
        children: [asyncResultTuple(base.taskId)],
      };
    default:
      throw new Error(`unknown worker task ${String(i.task)}`);
  }
}
