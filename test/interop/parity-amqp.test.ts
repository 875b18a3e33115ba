/** The shared interop parity suite (test/interop/parity/suite.ts) over RabbitMQ. */
import { defineParitySuite } from "./parity/suite.js";

defineParitySuite("amqp");
