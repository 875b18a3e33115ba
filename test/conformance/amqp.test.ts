import { createAmqpTransport } from "../../src/transports/amqp/index.js";
import { amqpUrl } from "../support/services.js";
import { transportConformance } from "./transport-suite.js";

transportConformance({
  name: "AMQP (RabbitMQ)",
  make: async () => createAmqpTransport(await amqpUrl()),
  requeueMarksRedelivered: true,
});
