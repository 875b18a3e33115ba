/** The adversarial suite (test/interop/adversarial/suite.ts) over RabbitMQ. */
import { defineAdversarialSuite } from "./adversarial/suite.js";

defineAdversarialSuite("amqp");
