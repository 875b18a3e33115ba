/** The broker-loss suite (test/interop/broker-loss/suite.ts) over RabbitMQ. */
import { defineBrokerLossSuite } from "./broker-loss/suite.js";

defineBrokerLossSuite("amqp");
