import { describe, expect, it } from "vitest";
import { DEFAULT_BROKER_TRANSPORT_OPTIONS } from "../../../src/config-defaults.js";
import {
  DEFAULT_KEY_OPTIONS,
  RedisKeys,
  ResultKeys,
  resultKeyprefix,
} from "../../../src/transports/redis/keys.js";

describe("RedisKeys", () => {
  const keys = new RedisKeys(0);

  it("maps priorities onto kombu's buckets 0/3/6/9 (clamped to 0..9)", () => {
    const buckets = [-4, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255].map((p) => keys.bucket(p));
    expect(buckets).toEqual([0, 0, 0, 0, 3, 3, 3, 6, 6, 6, 9, 9, 9]);
  });

  it("names bucket 0 after the queue and others queue + \\x06\\x16 + step", () => {
    expect(keys.queueKey("celery", 0)).toBe("celery");
    expect(keys.queueKey("celery", 4)).toBe("celery\x06\x163");
    expect(keys.queueKeys("q")).toEqual(["q", "q\x06\x163", "q\x06\x166", "q\x06\x169"]);
  });

  it("spells binding tables and members as kombu does", () => {
    expect(keys.bindingKey("celery")).toBe("_kombu.binding.celery");
    expect(keys.bindingPermanentKey("celery")).toBe("_kombu.binding_permanent.celery");
    expect(keys.bindingMember("celery", "", "celery")).toBe("celery\x06\x16\x06\x16celery");
    expect(keys.parseBindingMember("#\x06\x16\x06\x16celeryev.x")).toEqual({
      routingKey: "#",
      pattern: "",
      queue: "celeryev.x",
    });
    expect(keys.parseBindingMember("nosep")).toBeNull();
  });

  it("builds fanout channels with the /{db}. prefix", () => {
    const db3 = new RedisKeys(3);
    expect(db3.fanoutPublishChannel("celeryev", "task.sent")).toBe("/3.celeryev/task.sent");
    expect(db3.fanoutPublishChannel("celery.pidbox", "")).toBe("/3.celery.pidbox");
    expect(db3.fanoutSubscribePattern("celeryev", "#")).toBe("/3.celeryev/*");
    expect(new RedisKeys(0, { fanoutPrefix: false }).fanoutPublishChannel("x", "")).toBe("x");
  });

  it("prepends globalKeyprefix verbatim to every key and channel", () => {
    const p = new RedisKeys(0, { globalKeyprefix: "pfx:" });
    expect(p.queueKey("celery", 3)).toBe("pfx:celery\x06\x163");
    expect(p.bindingKey("celery")).toBe("pfx:_kombu.binding.celery");
    expect(p.fanoutPublishChannel("celeryev", "task.sent")).toBe("pfx:/0.celeryev/task.sent");
    expect(p.unackedKey()).toBe("pfx:unacked");
    expect(p.unackedIndexKey()).toBe("pfx:unacked_index");
    expect(p.unackedMutexKey()).toBe("pfx:unacked_mutex");
  });
});

describe("result keys", () => {
  it("appends _ to the backend prefix unless it ends in one of :_-.", () => {
    expect(["", "rpfx", "a:", "b_", "c-", "d."].map(resultKeyprefix)).toEqual([
      "",
      "rpfx_",
      "a:",
      "b_",
      "c-",
      "d.",
    ]);
  });

  it("names task and group metas and finds the id back", () => {
    const k = new ResultKeys("rpfx");
    expect(k.taskMeta("abc")).toBe("rpfx_celery-task-meta-abc");
    expect(k.groupMeta("g")).toBe("rpfx_celery-taskset-meta-g");
    expect(k.chordKey("g", "j")).toBe("rpfx_celery-taskset-meta-g.j");
    expect(k.taskIdOf("rpfx_celery-task-meta-abc")).toBe("abc");
    expect(k.taskIdOf("celery-task-meta-abc")).toBeNull();
  });
});

describe("one set of key defaults", () => {
  it("the settings' transport-option defaults are keys.ts's (config.ts sits below transports and cannot import them)", () => {
    const t = DEFAULT_BROKER_TRANSPORT_OPTIONS;
    const k = DEFAULT_KEY_OPTIONS;
    expect([t.sep, [...t.prioritySteps], t.unackedKey, t.unackedIndexKey, t.unackedMutexKey]).toEqual([
      k.sep,
      [...k.prioritySteps],
      k.unackedKey,
      k.unackedIndexKey,
      k.unackedMutexKey,
    ]);
  });
});
