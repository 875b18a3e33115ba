import { randomFillSync } from "node:crypto";

/**
 * Random (version 4) UUIDs as lowercase text, for task ids and Redis delivery tags (Celery's
 * `uuid()`, celery/utils/nodenames.py -> kombu/utils/uuid.py `uuid4()`, 5.7.0).
 *
 * `crypto.randomUUID()` returns its text as a rope of ~20 concatenated pieces (Node 20:
 * lib/internal/crypto/random.js `serializeUUID`): about 290 bytes of heap per id, flattened
 * later wherever the id is written. A burst of sends keeps thousands of ids alive until the
 * broker answers, so that garbage survived scavenges. This writes 128 ids at a time as ASCII
 * into one buffer from one `randomFillSync`, and hands out each as a flat 36-character string.
 */

const BATCH = 128;
const UUID_LENGTH = 36;
const random = Buffer.allocUnsafeSlow(16 * BATCH);
const text = Buffer.allocUnsafeSlow(UUID_LENGTH * BATCH);
const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");
/** Offset of each random byte's two hex digits inside an id's 36 characters (dashes skipped). */
const DIGIT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
for (let i = 0; i < BATCH; i++) {
  for (const dash of [8, 13, 18, 23]) text[i * UUID_LENGTH + dash] = 0x2d;
}
let next = BATCH;

function refill(): void {
  randomFillSync(random);
  for (let i = 0; i < BATCH; i++) {
    const from = i * 16;
    // RFC 9562 section 5.4: version 4 in the high nibble of byte 6, variant 0b10 in byte 8.
    random[from + 6] = ((random[from + 6] as number) & 0x0f) | 0x40;
    random[from + 8] = ((random[from + 8] as number) & 0x3f) | 0x80;
    const to = i * UUID_LENGTH;
    for (let b = 0; b < 16; b++) {
      const byte = random[from + b] as number;
      const at = to + (DIGIT_AT[b] as number);
      text[at] = HEX_DIGITS[byte >> 4] as number;
      text[at + 1] = HEX_DIGITS[byte & 0x0f] as number;
    }
  }
  next = 0;
}

/** A new random UUID, e.g. `"1b4e28ba-2fa1-41d2-883f-0016d3cca427"` (as `crypto.randomUUID()`). */
export function uuid4(): string {
  if (next === BATCH) refill();
  const start = next++ * UUID_LENGTH;
  return text.toString("latin1", start, start + UUID_LENGTH);
}
