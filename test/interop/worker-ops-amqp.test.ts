/**
 * The worker-operations suite (test/interop/worker-ops/suite.ts) over RabbitMQ. No case is
 * RabbitMQ's own: the pidbox and event messages are the same on both brokers.
 */
import { defineWorkerOpsSuite } from "./worker-ops/suite.js";

defineWorkerOpsSuite("amqp");
