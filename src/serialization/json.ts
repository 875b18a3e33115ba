/**
 * kombu's JSON codec (kombu/utils/json.py `dumps`/`loads`): Python-identical text out,
 * Python-compatible values in. The encoder and decoder live in their own files; this is the
 * module the rest of Celeriac imports.
 */

export { type JsonLoadsOptions, jsonLoads } from "./json-decode.js";
export { type JsonDumpsOptions, jsonDumps, pyJsonNumber, pyJsonString } from "./json-encode.js";
