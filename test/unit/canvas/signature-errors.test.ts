/**
 * A signature dict from the wire that is not one is refused with a ConfigError whose text is a
 * saferepr of what came (celery/utils/saferepr.py `saferepr`), even when it holds values
 * JSON.stringify cannot print (a BigInt, which kombu JSON decodes ints above 2^53 to, or a cycle).
 */
import { describe, expect, it } from "vitest";
import { Signature } from "../../../src/canvas/signature.js";
import { ConfigError } from "../../../src/errors.js";
import type { SignatureDict } from "../../../src/protocol/task-message.js";

describe("Signature errors show a repr that never throws", () => {
  it("fromDict on a dict with a BigInt and no task names it", () => {
    const bad = { args: [2n ** 70n] } as unknown as SignatureDict;
    expect(() => Signature.fromDict(bad)).toThrow(ConfigError);
    expect(() => Signature.fromDict(bad)).toThrow(
      /not a Celery signature dict: \{'args': \[1180591620717411303424\]\}/,
    );
  });

  it("fromDict on a cyclic dict", () => {
    const cyclic: Record<string, unknown> = { task: 5 };
    cyclic.self = cyclic;
    expect(() => Signature.fromDict(cyclic as unknown as SignatureDict)).toThrow(ConfigError);
  });

  it("a BigInt task name", () => {
    expect(() => new Signature(7n as unknown as string)).toThrow(/a signature needs a task name \(got 7\)/);
  });
});
