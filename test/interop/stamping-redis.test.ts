/**
 * The stamping suite (test/interop/stamping/suite.ts) over Redis. No case is Redis's own: stamps
 * travel in the same message headers on both brokers.
 */
import { defineStampingSuite } from "./stamping/suite.js";

defineStampingSuite("redis");
