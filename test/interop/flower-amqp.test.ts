/** The Flower suite (test/interop/flower/suite.ts) over RabbitMQ. */
import { defineFlowerSuite } from "./flower/suite.js";

defineFlowerSuite("amqp");
