import { describe, expect, it } from "vitest";
import {
  answerStateMessage,
  isStateAck,
  isStateMessage,
  type StateAck,
  type StateMessage,
  stateChannel,
} from "../../../src/worker/module-job.js";

/** Both ends of the ctx.updateState channel of a pool job, wired back to back (no thread in between). */
function wire(store: ((state: string, meta: unknown) => Promise<void>) | undefined) {
  const channel = stateChannel((msg: StateMessage) => {
    expect(isStateMessage(msg)).toBe(true);
    answerStateMessage(msg, store, (ack: StateAck) => {
      expect(isStateAck(ack)).toBe(true);
      setImmediate(() => channel.onAck(ack));
    });
  });
  return { channel };
}

describe("pool job state channel (ctx.updateState away from the main thread)", () => {
  it("resolves once the worker stored it, each write matched to its own ack", async () => {
    const seen: unknown[] = [];
    const { channel } = wire(async (state, meta) => {
      seen.push([state, meta]);
    });
    await Promise.all([channel.updateState("A", 1), channel.updateState("B", { n: 2 })]);
    expect(seen).toEqual([
      ["A", 1],
      ["B", { n: 2 }],
    ]);
  });

  it("a store error reaches the handler as a rejection with its text; no writer rejects too", async () => {
    const failing = wire(async () => {
      throw new Error("backend down");
    });
    await expect(failing.channel.updateState("A", 1)).rejects.toThrow("backend down");
    await expect(wire(undefined).channel.updateState("A", 1)).rejects.toThrow(/no state writer/);
  });

  it("a send that throws (a value that cannot cross) rejects at once", async () => {
    const channel = stateChannel(() => {
      throw new Error("could not be cloned");
    });
    await expect(channel.updateState("A", () => 1)).rejects.toThrow("could not be cloned");
  });
});
