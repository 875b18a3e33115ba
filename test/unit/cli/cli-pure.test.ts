import { describe, expect, it } from "vitest";
import { splitCommand } from "../../../src/cli/args.js";
import { dumpLine, pyUtcTimestamp } from "../../../src/cli/commands/events.js";
import {
  CONTROL_COMMAND_META,
  compileArguments,
  INSPECT_COMMAND_META,
} from "../../../src/cli/commands/remote-meta.js";
import { CliError } from "../../../src/cli/errors.js";
import { expandNodename } from "../../../src/cli/nodename.js";
import { pretty, sayReply } from "../../../src/cli/output.js";
import { pyRepr } from "../../../src/protocol/py-repr.js";

describe("CLI output (celery/bin/base.py pretty)", () => {
  it("formats ok/error/list/dict replies as Celery does", () => {
    expect(sayReply({ "w@h": { ok: "pong" } }, true)).toBe("->  w@h: OK\n        pong");
    expect(sayReply({ "w@h": ["a", "b"] }, true)).toBe("->  w@h: OK\n    * a\n    * b");
    expect(sayReply({ "w@h": [] }, true)).toBe("->  w@h: OK\n    - empty -");
    expect(sayReply({ "w@h": { error: "bad" } }, true)).toBe("->  w@h: ERROR\n        bad");
    expect(pretty({ b: 1, a: { d: 2, c: 3 } })[1]).toBe(
      '{\n    "a": {\n        "c": 3,\n        "d": 2\n    },\n    "b": 1\n}',
    );
  });

  it("prints values as Python's str()", () => {
    expect(pyRepr([["x"], { k: [1, 2.5], n: null, t: true }])).toBe(
      "[['x'], {'k': [1, 2.5], 'n': None, 't': True}]",
    );
    expect(pyRepr("it's")).toBe('"it\'s"');
  });
});

describe("remote command arguments (celery/bin/control.py _compile_arguments)", () => {
  it("converts fixed args in order and gathers the variadic rest", () => {
    expect(compileArguments("revoke", CONTROL_COMMAND_META.revoke!, ["a", "b"])).toEqual({
      task_id: ["a", "b"],
    });
    expect(compileArguments("time_limit", CONTROL_COMMAND_META.time_limit!, ["t", "1.5", "3"])).toEqual({
      task_name: "t",
      soft: 1.5,
      hard: 3,
    });
    expect(compileArguments("conf", INSPECT_COMMAND_META.conf!, ["yes"])).toEqual({ with_defaults: true });
    expect(compileArguments("query_task", INSPECT_COMMAND_META.query_task!, [])).toEqual({ ids: [] });
  });

  it("rejects extra arguments and bad numbers with a usage error", () => {
    expect(() => compileArguments("ping", INSPECT_COMMAND_META.ping!, ["x"])).toThrow(CliError);
    expect(() => compileArguments("time_limit", CONTROL_COMMAND_META.time_limit!, ["t", "soon"])).toThrow(
      /float/,
    );
  });
});

describe("argv split and node names", () => {
  it("moves global options given before the command after it", () => {
    expect(splitCommand(["-A", "./app.ts", "-b", "redis://x", "worker", "-c", "2"])).toEqual({
      command: "worker",
      rest: ["-A", "./app.ts", "-b", "redis://x", "-c", "2"],
    });
    expect(splitCommand(["--broker=redis://x", "status"]).command).toBe("status");
  });

  it("expands %h, %n, %d and adds @host to a bare name (celery/utils/nodenames.py)", () => {
    expect(expandNodename(undefined, "box.example.com")).toBe("celery@box.example.com");
    expect(expandNodename("w1", "box.example.com")).toBe("w1@box.example.com");
    expect(expandNodename("w1@%n.%d", "box.example.com")).toBe("w1@box.example.com");
    expect(expandNodename("w%%1@%n", "box")).toBe("w%1@box");
  });
});

describe("events --dump lines (celery/events/dumper.py)", () => {
  it("formats worker and task events", () => {
    const names = new Map<string, string>();
    expect(pyUtcTimestamp(1_700_000_000.25)).toBe("2023-11-14 22:13:20.250000+00:00");
    expect(
      dumpLine({ type: "worker-online", hostname: "w@h", timestamp: 1_700_000_000, freq: 2 }, names),
    ).toBe("w@h [2023-11-14 22:13:20+00:00] started: freq=2");
    const received = dumpLine(
      {
        type: "task-received",
        hostname: "w@h",
        timestamp: 1_700_000_000,
        uuid: "u1",
        name: "t.add",
        args: "(1,)",
        kwargs: "{}",
        retries: 0,
      },
      names,
    );
    expect(received).toBe(
      "w@h [2023-11-14 22:13:20+00:00] task received: t.add(u1) args=(1,) kwargs={} retries=0",
    );
    expect(
      dumpLine(
        { type: "task-succeeded", hostname: "w@h", timestamp: 1_700_000_000, uuid: "u1", runtime: 0.5 },
        names,
      ),
    ).toBe("w@h [2023-11-14 22:13:20+00:00] task succeeded: t.add(u1) args=(1,) kwargs={} runtime=0.5");
  });
});
