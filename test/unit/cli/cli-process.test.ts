/**
 * The CLI spawned as a user runs it, with no broker needed: `--help` on
 * every command, a bad flag and an unreachable broker each give one line
 * and a non-zero exit, never a stack trace.
 */
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../../src/cli/main.js";
import { celeriac } from "../../support/cli-apps/run.js";

describe("celeriac (spawned)", () => {
  it("--help lists every command", async () => {
    const run = await celeriac(["--help"]);
    expect(run.code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(run.stdout).toContain(`  ${name} `);
  });

  it.each(Object.keys(COMMANDS))("%s --help prints its usage and exits 0", async (name) => {
    const run = await celeriac([name, "--help"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout.startsWith(`Usage: celeriac ${name} [OPTIONS]`)).toBe(true);
    expect(run.stdout).toContain("--broker");
  });

  it("a bad flag: one line, exit 2", async () => {
    const run = await celeriac(["call", "some.task", "--no-such-flag"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe("Error: Unknown option '--no-such-flag'\n");
  });

  it("an unknown command: one line, exit 2", async () => {
    const run = await celeriac(["frobnicate"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("Error: No such command 'frobnicate'.\n");
  });

  it("bad --args JSON: one line, exit 2", async () => {
    const run = await celeriac(["call", "t", "--args", "{not json"]);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")).toHaveLength(2);
    expect(run.stderr.startsWith("Error: Invalid value for '--args'")).toBe(true);
  });

  it.each([["status"], ["inspect", "ping"], ["call", "some.task"], ["purge", "-f", "-Q", "q"]])(
    "unreachable broker (%s): one line, exit 69, password masked",
    async (...args) => {
      const run = await celeriac([...args, "--broker", "redis://:s3cret@127.0.0.1:1/0"]);
      expect(run.code).toBe(69);
      expect(run.stdout).toBe("");
      const lines = run.stderr.split("\n").filter((l) => l !== "");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("Could not connect to the message broker");
      expect(run.stderr).not.toContain("s3cret");
      expect(run.stderr).not.toMatch(/\n\s+at /);
    },
  );

  it("inspect with an unknown command names the available ones, exit 2", async () => {
    const run = await celeriac(["inspect", "nope"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Error: Command nope not recognized\. Available inspect commands: active, /);
  });

  it("worker with an unknown -P: one line naming the pools, exit 2", async () => {
    const run = await celeriac(["worker", "-A", "x.js", "-P", "eventlet"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "Error: Invalid value for '-P' / '--pool': 'eventlet' is not one of async, process, prefork.\n",
    );
  });

  it("worker without --app: one line, exit 2", async () => {
    const run = await celeriac(["worker"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--app");
  });
});
