// Types for the parts of `compressjs` (CommonJS, untyped) that compression.ts uses.
declare module "compressjs" {
  export interface Bzip2Codec {
    /** bzip2-compresses `input`; `blockSizeMultiplier` 1..9 is bzip2's level (Python's default is 9). */
    compressFile(input: Uint8Array, output?: undefined, blockSizeMultiplier?: number): Uint8Array;
    /** Decompresses a bzip2 stream; `multistream` reads concatenated streams as bz2.decompress does. */
    decompressFile(input: Uint8Array, output?: undefined, multistream?: boolean): Uint8Array;
    /** Streams the output into `output.writeByte` (which may throw to stop the decoder). */
    decompressFile(
      input: Uint8Array,
      output: { writeByte(byte: number): void },
      multistream: boolean,
    ): unknown;
  }
  const compressjs: { readonly Bzip2: Bzip2Codec };
  export default compressjs;
}
