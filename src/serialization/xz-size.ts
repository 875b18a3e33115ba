/**
 * The exact decompressed size of an .xz file or a legacy .lzma stream, read from its headers
 * without decompressing, so compression.ts can refuse a bomb before @napi-rs/lzma (which has no
 * output limit and no streaming API) inflates it.
 *
 * .xz (the .xz file format 1.1.0, sections 2-3; what Python's `lzma.compress` writes): streams of
 * blocks, each block an LZMA2 stream (after size-preserving filters: delta, BCJ) made of chunks
 * whose headers carry their uncompressed size. The decoder is driven by those chunk headers, so
 * their sum is exactly what it produces. The walk reads only headers and skips the compressed
 * payloads. The legacy .lzma ("alone") header states the size; a stream that says "unknown" (-1)
 * cannot be bounded and is reported as such.
 */

/** Why a size could not be read: the stream is malformed, or (alone format) it does not say. */
export type XzSizeResult = { size: number } | { error: string };

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a];

/** Check field sizes by check type (the .xz format, 2.1.1.2). */
function checkSize(type: number): number {
  if (type === 0) return 0;
  return 4 * 2 ** Math.floor((type - 1) / 3);
}

class Reader {
  pos: number;
  constructor(
    readonly data: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }
  byte(): number {
    const b = this.data[this.pos++];
    if (b === undefined) throw new RangeError("truncated");
    return b;
  }
  /** The format's multibyte integer (7 bits a byte, little-endian, at most 9 bytes). */
  varint(): number {
    let value = 0;
    for (let i = 0; i < 9; i++) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return value;
    }
    throw new RangeError("bad multibyte integer");
  }
  skip(n: number): void {
    this.pos += n;
    if (this.pos > this.data.length) throw new RangeError("truncated");
  }
}

/** Sums the uncompressed sizes of the LZMA2 chunks starting at the reader; stops at the end marker. */
function lzma2Size(r: Reader, limit: number): number {
  let total = 0;
  for (;;) {
    const control = r.byte();
    if (control === 0x00) return total;
    if (control === 0x01 || control === 0x02) {
      const size = ((r.byte() << 8) | r.byte()) + 1;
      r.skip(size);
      total += size;
    } else if (control >= 0x80) {
      const unpacked = ((control & 0x1f) << 16) + ((r.byte() << 8) | r.byte()) + 1;
      const packed = ((r.byte() << 8) | r.byte()) + 1;
      if (control >= 0xc0) r.skip(1); // new properties byte
      r.skip(packed);
      total += unpacked;
    } else {
      throw new RangeError(`invalid LZMA2 control byte 0x${control.toString(16)}`);
    }
    if (total > limit) return total; // enough to refuse; no need to read on
  }
}

function xzSize(data: Uint8Array, limit: number): number {
  let total = 0;
  const r = new Reader(data, 0);
  while (r.pos < data.length) {
    // stream padding between streams: zero bytes, a multiple of four
    if (data[r.pos] === 0 && r.pos > 0) {
      r.skip(4);
      continue;
    }
    for (const [i, b] of XZ_MAGIC.entries()) if (data[r.pos + i] !== b) throw new RangeError("no xz magic");
    r.skip(6);
    r.byte();
    const check = checkSize(r.byte() & 0x0f);
    r.skip(4); // CRC32 of the stream flags
    for (;;) {
      const blockStart = r.pos;
      const headerSizeByte = r.byte();
      if (headerSizeByte === 0x00) break; // the index
      const headerEnd = blockStart + (headerSizeByte + 1) * 4;
      const flags = r.byte();
      if (flags & 0x40) r.varint(); // compressed size
      if (flags & 0x80) r.varint(); // uncompressed size (also checked by the decoder)
      const filters = (flags & 0x03) + 1;
      let last = -1;
      for (let i = 0; i < filters; i++) {
        last = r.varint();
        r.skip(r.varint()); // filter properties
      }
      if (last !== 0x21) throw new RangeError(`last filter is 0x${last.toString(16)}, not LZMA2`);
      r.pos = headerEnd;
      total += lzma2Size(r, limit - total);
      if (total > limit) return total;
      while ((r.pos - blockStart) % 4 !== 0) r.skip(1); // block padding
      r.skip(check);
    }
    // the index: records of (unpadded size, uncompressed size), padding, CRC32; then the footer
    const records = r.varint();
    for (let i = 0; i < records; i++) {
      r.varint();
      r.varint();
    }
    while (r.pos % 4 !== 0) r.skip(1);
    r.skip(4 + 10);
    for (const [i, b] of FOOTER_MAGIC.entries()) if (data[r.pos + i] !== b) throw new RangeError("no footer");
    r.skip(2);
  }
  return total;
}

/**
 * The decompressed size of `data` (an .xz file, possibly several concatenated, or a legacy .lzma
 * stream), or why it cannot be known. Stops counting once past `limit`.
 */
export function lzmaDecompressedSize(data: Uint8Array, limit: number): XzSizeResult {
  try {
    if (XZ_MAGIC.every((b, i) => data[i] === b)) return { size: xzSize(data, limit) };
    // .lzma (alone): 1 properties byte, 4 dictionary size bytes, 8 size bytes (little-endian).
    if (data.length < 13) return { error: "truncated .lzma header" };
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const low = view.getUint32(5, true);
    const high = view.getUint32(9, true);
    if (low === 0xffffffff && high === 0xffffffff) {
      return { error: "a legacy .lzma stream of unknown size cannot be bounded; send .xz (kombu's lzma)" };
    }
    return { size: high * 2 ** 32 + low };
  } catch (err) {
    return { error: `corrupt xz stream: ${(err as Error).message}` };
  }
}
