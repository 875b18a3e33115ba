import { ConnectionLostError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { WorkerEvents } from "./worker-events.js";

/** The consumer callbacks that follow the broker connection (one pair per worker, for all its consumers). */
export interface BrokerWatch {
  onError(err: Error): void;
  onReconnected(): void;
}

/**
 * Logs consumer errors and turns a lost / regained broker connection into the
 * worker's `broker-lost` / `broker-back` events (with the downtime), once per loss.
 */
export function brokerWatch(logger: Logger, events: WorkerEvents): BrokerWatch {
  /** When the broker connection was lost (ms), null while connected (for `broker-back`). */
  let brokerLostAt: number | null = null;
  return {
    // A lost broker connection is one line per retry (Celery's CONNECTION_ERROR), no stack.
    onError: (err) => {
      if (err instanceof ConnectionLostError) logger.error(`consumer: ${err.message}`);
      else logger.error({ err }, `consumer: ${err.message}`);
      events.emit("consumer-error", err);
      if (err instanceof ConnectionLostError && brokerLostAt === null) {
        brokerLostAt = Date.now();
        events.emit("broker-lost", err);
      }
    },
    onReconnected: () => {
      const downtime = brokerLostAt === null ? 0 : (Date.now() - brokerLostAt) / 1000;
      brokerLostAt = null;
      logger.info(`consumer: connected to the broker again after ${downtime.toFixed(2)}s`);
      events.emit("broker-back", { downtime });
    },
  };
}
