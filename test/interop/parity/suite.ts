/**
 * One interop parity suite, run once per transport (parity-redis.test.ts, parity-amqp.test.ts):
 * the producer and worker scenarios of the Redis issues, both directions, against stock Python
 * Celery 5.7.
 *
 * Result backend: Redis for both transports (a fresh db per describe); on AMQP one extra scenario
 * reads a TS worker's reply through `rpc://`. Where the brokers legitimately differ, the suite
 * takes the difference from the transport: priority direction from `transport.capabilities`
 * (Redis lower number first, RabbitMQ higher first), redelivery and queue depth from the small
 * per-transport table in transports.ts.
 */
import { definePythonToTs, defineWorkerProcesses } from "./python-to-ts.js";
import { type ParityTransport, TRANSPORTS } from "./transports.js";
import { defineTsToPython } from "./ts-to-python.js";

export type { ParityTransport } from "./transports.js";

export function defineParitySuite(transport: ParityTransport): void {
  const profile = TRANSPORTS[transport];
  defineTsToPython(profile);
  definePythonToTs(profile);
  defineWorkerProcesses(profile);
}
