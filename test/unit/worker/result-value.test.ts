/**
 * src/worker/result-value.ts resultEncodeError: the values it passes without encoding (null,
 * strings, booleans, safe integers) are ones every result serializer encodes, so skipping the
 * check never stores a meta Celery's `Backend.encode` would have refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LATEST_COMPAT } from "../../../src/compat.js";
import { kombuResultEncoder } from "../../../src/worker/body-codec.js";
import { resultEncodeError } from "../../../src/worker/result-value.js";

const shortcut = fc.oneof(
  fc.constant(null),
  fc.string({ unit: "binary" }),
  fc.boolean(),
  fc.maxSafeInteger(),
  fc.maxSafeNat().map((n) => -n),
);

describe("resultEncodeError", () => {
  for (const serializer of ["json", "msgpack", "yaml"]) {
    it(`passes only values the ${serializer} result serializer encodes`, () => {
      const encode = kombuResultEncoder(serializer, LATEST_COMPAT);
      fc.assert(
        fc.property(shortcut, (value) => {
          expect(() => encode(value)).not.toThrow();
          expect(resultEncodeError(value, encode)).toBeNull();
        }),
      );
    });

    it(`still refuses what ${serializer} cannot encode`, () => {
      const encode = kombuResultEncoder(serializer, LATEST_COMPAT);
      const error = resultEncodeError({ f: () => 1 }, encode);
      expect(error?.excType).toBe("EncodeError");
    });
  }
});
