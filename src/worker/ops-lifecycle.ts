import { loadStateDb, saveStateDb } from "../control/statedb.js";
import type { WorkerOps } from "../control/worker-ops.js";
import type { Logger } from "../logging.js";
import { withDeadline } from "../transports/retry-policy.js";

/** How long a shutdown waits for the last events and the pidbox to close. */
const OPS_STOP_TIMEOUT_MS = 5000;

/** Brings up events, mingle and the pidbox (WorkerOps), after merging the state file if there is one. */
export async function startOps(
  ops: WorkerOps | null,
  statedb: string | undefined,
  logger: Logger,
): Promise<void> {
  // celery/worker/state.py Persistent: the state file is merged when the worker is built,
  // before mingle, so its revoked ids are in our hello too.
  if (statedb !== undefined) {
    if (ops) {
      const n = await loadStateDb(statedb, ops);
      logger.info(`statedb ${statedb}: ${n} revoked id(s) loaded`);
    } else logger.warn("statedb needs events/remote control (a Redis or AMQP broker); not used");
  }
  // celery/worker/consumer bootsteps: Events and Mingle come before Tasks; the pidbox is up with them.
  await ops?.start();
}

/** Stops events and the pidbox (bounded), then saves the state file if there is one. */
export async function stopOps(
  ops: WorkerOps | null,
  statedb: string | undefined,
  logger: Logger,
): Promise<void> {
  // worker-offline goes out after the last task events (celery/worker/consumer/events.py shutdown).
  // Bounded: with the broker gone the last events and the pidbox close would wait for it.
  await withDeadline(
    ops?.stop() ?? Promise.resolve(),
    OPS_STOP_TIMEOUT_MS,
    () => new Error(`not done after ${OPS_STOP_TIMEOUT_MS / 1000}s (broker unreachable?)`),
  ).catch((err: unknown) => logger.warn(`events/pidbox stop: ${(err as Error).message}`));
  if (statedb !== undefined && ops) {
    await saveStateDb(statedb, ops).catch((err: unknown) =>
      logger.error({ err }, `statedb ${statedb}: not saved: ${(err as Error).message}`),
    );
  }
}
