import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compatProfile } from "../../../src/compat.js";
import {
  AcceptPolicy,
  compress,
  decompress,
  deserialize,
  jsonDumps,
  jsonLoads,
  msgpackDumps,
  msgpackLoads,
  serialize,
  yamlDumps,
  yamlLoads,
  zstdAvailable,
} from "../../../src/serialization/index.js";
import {
  bytes,
  canon,
  int64,
  jsDate,
  pyDate,
  pyDateTime,
  pyDecimal,
  pyInt,
  pyTime,
  pyUUID,
  tree,
  wellFormedString,
} from "./arbitraries.js";

const anyString = fc.string({ unit: "binary" });
// msgpack has no way to say "-0" for an integral JS number: it goes out as int 0 (see msgpack.ts).
const msgpackDouble = fc.double().filter((d) => !Object.is(d, -0));
// @msgpack/msgpack refuses to decode a `__proto__` map key (see msgpack.ts).
const msgpackKey = wellFormedString.filter((k) => k !== "__proto__");
const scalar = fc.oneof(anyString, fc.double(), pyInt, fc.boolean(), fc.constant(null));
const jsonLeaf = fc.oneof(scalar, pyDate, pyTime, pyDecimal, pyUUID, bytes);

describe("jsonLoads(jsonDumps(x)) == x", () => {
  it("with Dates (milliseconds) and every other marker type", () => {
    fc.assert(
      fc.property(tree(fc.oneof(jsonLeaf, jsDate), anyString), (value) => {
        expect(canon(jsonLoads(jsonDumps(value)))).toEqual(canon(value));
      }),
      { numRuns: 400 },
    );
  });

  it("with PyDateTime (microseconds, offsets, naive) decoded losslessly", () => {
    fc.assert(
      fc.property(tree(fc.oneof(jsonLeaf, pyDateTime)), (value) => {
        expect(canon(jsonLoads(jsonDumps(value), { datetimes: "pydatetime" }))).toEqual(canon(value));
      }),
      { numRuns: 400 },
    );
  });

  it("text is unchanged by a decode/encode cycle", () => {
    fc.assert(
      fc.property(tree(fc.oneof(jsonLeaf, pyDateTime)), (value) => {
        const text = jsonDumps(value);
        expect(jsonDumps(jsonLoads(text, { datetimes: "pydatetime" }))).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it("output is pure ASCII, as Python's ensure_ascii", () => {
    fc.assert(
      fc.property(tree(jsonLeaf), (value) => {
        expect(/^[\x20-\x7e]*$/.test(jsonDumps(value))).toBe(true);
      }),
    );
  });
});

describe("msgpack and yaml round trips", () => {
  const msgpackValue = tree(
    fc.oneof(wellFormedString, msgpackDouble, int64, fc.boolean(), fc.constant(null), bytes),
    msgpackKey,
  );
  const yamlValue = tree(
    fc.oneof(anyString, fc.double(), pyInt, fc.boolean(), fc.constant(null), bytes, jsDate, pyDate),
    anyString,
  );

  it("msgpackLoads(msgpackDumps(x)) == x", () => {
    fc.assert(
      fc.property(msgpackValue, (value) => {
        expect(canon(msgpackLoads(msgpackDumps(value)))).toEqual(canon(value));
      }),
      { numRuns: 300 },
    );
  });

  it("yamlLoads(yamlDumps(x)) == x", () => {
    fc.assert(
      fc.property(yamlValue, (value) => {
        expect(canon(yamlLoads(yamlDumps(value)))).toEqual(canon(value));
      }),
      { numRuns: 300 },
    );
  });

  it("yaml keeps PyDateTime exact in pydatetime mode", () => {
    fc.assert(
      fc.property(pyDateTime, (dt) => {
        expect(canon(yamlLoads(yamlDumps({ dt }), { datetimes: "pydatetime" }))).toEqual(canon({ dt }));
      }),
    );
  });
});

const COMPRESSION_NAMES = [
  undefined,
  "zlib",
  "bzip2",
  "lzma",
  "brotli",
  ...(zstdAvailable() ? ["zstd"] : []),
];
const SERIALIZER_VALUES = {
  json: tree(fc.oneof(jsonLeaf, jsDate)),
  msgpack: tree(
    fc.oneof(wellFormedString, msgpackDouble, int64, fc.boolean(), fc.constant(null), bytes),
    msgpackKey,
  ),
  yaml: tree(
    fc.oneof(wellFormedString, fc.double(), pyInt, fc.boolean(), fc.constant(null), bytes, jsDate, pyDate),
  ),
} as const;
const ACCEPT_ALL = AcceptPolicy.from(["json", "msgpack", "yaml"]);

describe("serialize -> compress -> decompress -> deserialize, every serializer x compression", () => {
  for (const serializer of ["json", "msgpack", "yaml"] as const) {
    for (const compression of COMPRESSION_NAMES) {
      it(`${serializer} + ${compression ?? "no compression"}`, () => {
        fc.assert(
          fc.property(SERIALIZER_VALUES[serializer], (value) => {
            const out = serialize(value, serializer);
            let wire: Uint8Array = out.body;
            if (compression) {
              const packed = compress(out.body, compression);
              expect(packed.mime).toMatch(/^application\//);
              wire = decompress(packed.data, packed.mime);
            }
            const back = deserialize(wire, out.contentType, out.contentEncoding, ACCEPT_ALL);
            expect(canon(back)).toEqual(canon(value));
          }),
          { numRuns: 40 },
        );
      });
    }
  }

  it("json under compat 5.2 round-trips plain JSON values", () => {
    const compat = compatProfile("5.2");
    fc.assert(
      fc.property(tree(scalar), (value) => {
        const out = serialize(value, "json", { compat });
        expect(
          canon(deserialize(out.body, out.contentType, out.contentEncoding, ACCEPT_ALL, { compat })),
        ).toEqual(canon(value));
      }),
    );
  });
});
