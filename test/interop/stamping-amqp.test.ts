/**
 * The stamping suite (test/interop/stamping/suite.ts) over RabbitMQ. No case is RabbitMQ's own: stamps
 * travel in the same message headers on both brokers.
 */
import { defineStampingSuite } from "./stamping/suite.js";

defineStampingSuite("amqp");
