/**
 * The worker-operations suite (test/interop/worker-ops/suite.ts) over Redis. No case is Redis's
 * own: the pidbox and event messages are the same on both brokers.
 */
import { defineWorkerOpsSuite } from "./worker-ops/suite.js";

defineWorkerOpsSuite("redis");
