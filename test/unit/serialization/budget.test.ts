/**
 * The wire-input budget (src/serialization/budget.ts): every decoder refuses a message over the
 * size, decompressed-size or nesting limit with a BudgetExceededError (a DecodeError), before
 * the work it bounds, and never lets a RangeError or a V8 abort through. Bombs for bzip2 and xz
 * are made by Python's own bz2/lzma (the venv's python), as a Celery peer would make them.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";
import { encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ContentDisallowedError, DecodeError } from "../../../src/errors.js";
import {
  AcceptPolicy,
  BudgetExceededError,
  checkJsonDepth,
  checkMsgpackDepth,
  checkValueDepth,
  compress,
  DEFAULT_WIRE_BUDGET,
  decodeMessageBody,
  decompress,
  jsonDumps,
  jsonLoads,
  msgpackLoads,
  yamlLoads,
  zstdAvailable,
} from "../../../src/serialization/index.js";

const PYTHON = fileURLToPath(new URL("../../../python-interop/.venv-5.7/bin/python", import.meta.url));
const MiB = 1024 * 1024;

/** `kind` bytes as Python's bz2/lzma compress them (70 MiB of zeros: 82 and ~10 KB bytes). */
function pythonBomb(kind: "bz2" | "lzma"): Buffer {
  const run = spawnSync(
    PYTHON,
    ["-c", `import ${kind}, sys; sys.stdout.buffer.write(${kind}.compress(bytes(70 << 20)))`],
    { maxBuffer: 1 << 20 },
  );
  if (run.status !== 0) {
    throw new Error(`python failed (run npm run setup for the Celery venv): ${run.stderr.toString()}`);
  }
  return run.stdout;
}

function expectBudget(fn: () => unknown, limit: BudgetExceededError["limit"]): BudgetExceededError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BudgetExceededError);
  expect(caught).toBeInstanceOf(DecodeError);
  expect((caught as BudgetExceededError).limit).toBe(limit);
  return caught as BudgetExceededError;
}

/** The true container depth of a decoded JSON-like value (0 for a scalar). */
function depthOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((deepest, child) => Math.max(deepest, depthOf(child)), 0);
}

const nested = (n: number, open = "[", close = "]", inner = "") =>
  `${open.repeat(n)}${inner}${close.repeat(n)}`;

describe("JSON depth", () => {
  it("a JSON string nested 100 000 levels is a DecodeError naming the setting, not a RangeError", () => {
    const err = expectBudget(() => jsonLoads(nested(100_000)), "maxDepth");
    expect(err.message).toMatch(/512-level nesting limit \(setting wireMaxDepth\)/);
    // The exact parser path (a long digit run forces it) is guarded the same way.
    expectBudget(() => jsonLoads(nested(100_000, "[", "]", "12345678901234567890")), "maxDepth");
  });

  it("accepts exactly the limit, refuses one more; brackets inside strings do not count", () => {
    expect(depthOf(jsonLoads(nested(512)))).toBe(512);
    expectBudget(() => jsonLoads(nested(513)), "maxDepth");
    expect(jsonLoads(JSON.stringify(["[".repeat(5000), { a: '"\\[[[' }]))).toEqual([
      "[".repeat(5000),
      { a: '"\\[[[' },
    ]);
    expectBudget(() => jsonLoads(nested(20), { maxDepth: 10 }), "maxDepth");
  });

  it("the scan agrees with the real depth of any document (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 1, max: 14 }), (value, limit) => {
        const text = JSON.stringify(value);
        const depth = depthOf(JSON.parse(text));
        if (depth > limit) expect(() => checkJsonDepth(text, limit)).toThrow(BudgetExceededError);
        else expect(() => checkJsonDepth(text, limit)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe("YAML depth, checked before the parser can overflow (a V8 abort, uncatchable)", () => {
  it("refuses 10 KB of flow YAML 5 000 levels deep, compact block sequences and deep maps", () => {
    expectBudget(() => yamlLoads(nested(5000)), "maxDepth");
    expectBudget(() => yamlLoads(nested(5000, "{a: ", "}", "1")), "maxDepth");
    expectBudget(() => yamlLoads(`${"- ".repeat(5000)}x`), "maxDepth");
    const deepMap = Array.from({ length: 600 }, (_, i) => `${"  ".repeat(i)}k:`).join("\n");
    expectBudget(() => yamlLoads(`${deepMap} 1`), "maxDepth");
  });

  it("refuses depth built from aliases, and a recursive alias", () => {
    const chain = ["a0: &a0 [1]"];
    for (let i = 1; i < 600; i++) chain.push(`a${i}: &a${i} [*a${i - 1}]`);
    expectBudget(() => yamlLoads(chain.join("\n")), "maxDepth");
    expect(() => yamlLoads("a: &x [1, *x]")).toThrow(DecodeError);
  });

  it("reads what PyYAML writes: block style 100 levels deep, anchors and aliases", () => {
    const deep = Array.from({ length: 100 }, (_, i) => `${"  ".repeat(i)}k:`).join("\n");
    expect(depthOf(yamlLoads(`${deep} 1`))).toBe(100);
    expect(yamlLoads("a: &x [1, 2]\nb: *x\nc: {d: [*x]}\n")).toEqual({
      a: [1, 2],
      b: [1, 2],
      c: { d: [[1, 2]] },
    });
    expect(depthOf(yamlLoads(nested(200)))).toBe(200);
  });
});

describe("msgpack depth", () => {
  const deepArray = (n: number) => Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0x01])]);

  it("refuses 100 000 levels before decoding; accepts the limit", () => {
    expectBudget(() => msgpackLoads(deepArray(100_000)), "maxDepth");
    expect(depthOf(msgpackLoads(deepArray(512)))).toBe(512);
    expectBudget(() => msgpackLoads(deepArray(513)), "maxDepth");
  });

  it("the walk agrees with the real depth of any msgpack document (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), fc.integer({ min: 1, max: 12 }), (value, limit) => {
        const bytes = encode(value, { maxDepth: 64 });
        const depth = depthOf(value);
        if (depth > limit) expect(() => checkMsgpackDepth(bytes, limit)).toThrow(BudgetExceededError);
        else expect(() => checkMsgpackDepth(bytes, limit)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe("decoded-value depth (an AMQP headers table: checkValueDepth)", () => {
  const chain = (n: number): unknown => {
    let value: unknown = "leaf";
    for (let i = 0; i < n; i++) value = i % 2 === 0 ? [value] : { k: value };
    return value;
  };

  it("accepts exactly the limit, refuses one more, on both sides of the 32-level shallow pre-check", () => {
    for (const limit of [3, 31, 32, 33, 40, 512]) {
      expect(() => checkValueDepth(chain(limit), limit)).not.toThrow();
      expectBudget(() => checkValueDepth(chain(limit + 1), limit), "maxDepth");
    }
    expectBudget(() => checkValueDepth(chain(100_000), 512, "headers table"), "maxDepth");
  });

  it("a wide shared node, a cycle, Maps, Sets and Buffers are walked without blowing up", () => {
    const shared = { a: [1, 2, 3] };
    const wide = { list: Array.from({ length: 5000 }, () => shared) };
    expect(() => checkValueDepth(wide, 4)).not.toThrow();
    expectBudget(() => checkValueDepth(wide, 3), "maxDepth");
    const loop: Record<string, unknown> = { x: 1 };
    loop.self = loop;
    expect(() => checkValueDepth(loop, 2)).not.toThrow();
    expect(() => checkValueDepth(new Map([["k", new Set([[1]])]]), 3)).not.toThrow();
    expectBudget(() => checkValueDepth(new Map([["k", new Set([[1]])]]), 2), "maxDepth");
    expect(() => checkValueDepth({ body: Buffer.alloc(64) }, 1)).not.toThrow();
  });

  it("agrees with the real depth of any value (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 40 }), fc.integer({ min: 1, max: 42 }), (value, limit) => {
        if (depthOf(value) > limit) expect(() => checkValueDepth(value, limit)).toThrow(BudgetExceededError);
        else expect(() => checkValueDepth(value, limit)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe("decompression is capped (wireMaxDecompressedSize)", () => {
  let bz2Bomb: Buffer;
  let xzBomb: Buffer;
  beforeAll(() => {
    bz2Bomb = pythonBomb("bz2");
    xzBomb = pythonBomb("lzma");
  });

  it("zlib and brotli stop at the cap", () => {
    const quality = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } };
    const brotli = zlib.brotliCompressSync(Buffer.alloc(100 * MiB), quality);
    expect(brotli.length).toBeLessThan(100 * 1024);
    const err = expectBudget(() => decompress(brotli, "application/x-brotli"), "maxDecompressedSize");
    expect(err.message).toMatch(/16 MiB decompressed size limit \(setting wireMaxDecompressedSize\)/);
    expectBudget(() => decompress(zlib.deflateSync(Buffer.alloc(40 * MiB)), "zlib"), "maxDecompressedSize");
  });

  it("Python's bzip2 bomb (82 bytes -> 70 MiB) stops at the cap", () => {
    expect(bz2Bomb.length).toBeLessThan(200);
    expectBudget(() => decompress(bz2Bomb, "bzip2", 2 * MiB), "maxDecompressedSize");
  });

  it("Python's xz bomb is refused from its chunk headers, before decompressing", () => {
    expectBudget(() => decompress(xzBomb, "xz"), "maxDecompressedSize");
    expect(decompress(xzBomb, "xz", 80 * MiB).length).toBe(70 << 20);
  });

  it("zstd stops at the cap where this Node has it (22.15+; .ci/run's Node 24 tier), else is a DecodeError to a reader", () => {
    if (zstdAvailable()) {
      const { data } = compress(Buffer.alloc(20 * MiB), "zstd");
      expectBudget(() => decompress(data, "zstd"), "maxDecompressedSize");
      expect(decompress(data, "zstd", 21 * MiB).length).toBe(20 * MiB);
    } else {
      const accept = AcceptPolicy.from(["json"]);
      expect(() =>
        decodeMessageBody(Buffer.from("x"), "application/json", "utf-8", accept, { compression: "zstd" }),
      ).toThrow(DecodeError);
    }
  });

  it("a body at the cap decodes; one byte more does not, for every codec", () => {
    const payload = Buffer.alloc(64 * 1024, 7);
    for (const name of ["zlib", "bzip2", "lzma", "brotli"]) {
      const { data, mime } = compress(payload, name);
      expect(decompress(data, mime, payload.length).equals(payload)).toBe(true);
      expectBudget(() => decompress(data, mime, payload.length - 1), "maxDecompressedSize");
    }
  });
});

describe("decodeMessageBody: the whole decode path of one message", () => {
  const accept = AcceptPolicy.from(["json", "msgpack", "yaml"]);

  it("refuses a message over wireMaxMessageSize before reading it", () => {
    const big = Buffer.from(JSON.stringify(["x".repeat(17 * MiB)]));
    const err = expectBudget(
      () => decodeMessageBody(big, "application/json", "utf-8", accept, { what: "task message body" }),
      "maxMessageSize",
    );
    expect(err.message).toMatch(/^task message body of 17\.0 MiB is over the 16 MiB message size limit/);
    const small = { ...DEFAULT_WIRE_BUDGET, maxMessageSize: 1024 };
    expectBudget(
      () =>
        decodeMessageBody(Buffer.alloc(2048, 0x20), "application/json", "utf-8", accept, { budget: small }),
      "maxMessageSize",
    );
  });

  it("never throws anything but DecodeError or ContentDisallowedError, for any bytes (property)", () => {
    const types = fc.constantFrom(
      "application/json",
      "application/x-msgpack",
      "application/x-yaml",
      "application/x-python-serialize",
      "text/plain",
      "",
    );
    const compression = fc.constantFrom(undefined, "zlib", "bzip2", "xz", "brotli", "zstd", "bogus");
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.jsonValue().map((v) => Buffer.from(jsonDumps(v))),
      fc.integer({ min: 1, max: 3000 }).map((n) => Buffer.from(nested(n))),
      fc.integer({ min: 1, max: 3000 }).map((n) => Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([1])])),
    );
    fc.assert(
      fc.property(bodies, types, compression, (body, type, comp) => {
        try {
          decodeMessageBody(body, type, "utf-8", accept, { compression: comp });
        } catch (err) {
          expect(err instanceof DecodeError || err instanceof ContentDisallowedError).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });
});
