/**
 * Serialization: kombu's codecs (json with type markers, msgpack, yaml), the accept policy and
 * message compression. Pure: no I/O. See each module for the kombu function it mirrors.
 */

export { pyFloatRepr } from "../protocol/py-float.js";
export {
  BUDGET_SETTING,
  BudgetExceededError,
  type BudgetLimit,
  checkJsonDepth,
  checkMessageSize,
  checkValueDepth,
  DEFAULT_WIRE_BUDGET,
  type WireBudget,
  wireBudget,
} from "./budget.js";
export {
  COMPRESSION_ALIASES,
  COMPRESSION_NAMES,
  CodecUnavailableError,
  type CompressionMime,
  type CompressionName,
  compress,
  compressionMime,
  decompress,
  zstdAvailable,
} from "./compression.js";
export { decodeMessageBody, type MessageDecodeOptions } from "./decode-message.js";
export {
  type JsonDumpsOptions,
  type JsonLoadsOptions,
  jsonDumps,
  jsonLoads,
  pyJsonNumber,
  pyJsonString,
} from "./json.js";
export { checkMsgpackDepth, msgpackDumps, msgpackLoads } from "./msgpack.js";
export { formatDateUtc, PyDate, PyDateTime, PyDecimal, PyTime, PyUUID } from "./pytypes.js";
export {
  AcceptPolicy,
  CONTENT_TYPES,
  type DeserializeOptions,
  deserialize,
  isSerializerName,
  PICKLE_CONTENT_TYPE,
  SERIALIZER_NAMES,
  type SerializedBody,
  type SerializeOptions,
  type SerializerName,
  serialize,
  TRUSTED_CONTENT_TYPES,
} from "./registry.js";
export { type YamlLoadsOptions, yamlDumps, yamlLoads } from "./yaml.js";
