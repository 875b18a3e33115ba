/** The celeriac CLI suite against a Python worker (test/interop/cli-python-worker/suite.ts) over RabbitMQ. */
import { defineCliPythonWorkerSuite } from "./cli-python-worker/suite.js";

defineCliPythonWorkerSuite("amqp");
