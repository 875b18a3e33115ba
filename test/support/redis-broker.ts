import type { Celery } from "../../src/app.js";
import { RedisTransport } from "../../src/transports/redis/index.js";

/** The app's Redis broker transport, for tests that look at Redis keys and connections directly. */
export function redisBrokerOf(app: Celery): RedisTransport {
  const transport = app.transport;
  if (!(transport instanceof RedisTransport)) {
    throw new Error(`this test needs a redis:// broker; the app's broker is ${app.settings.broker}`);
  }
  return transport;
}
