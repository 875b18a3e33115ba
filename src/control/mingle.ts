import type { Settings } from "../config.js";
import type { LamportClock } from "../events/clock.js";
import { Control, type ControlAppLike } from "./control.js";
import type { RevokedSet } from "./revoked.js";

export interface MingleOptions {
  settings: Settings;
  /** The app's oid (the reply queue of the `hello` broadcast). */
  oid: string;
  /** The broker, as `Control` takes it. */
  transport: ControlAppLike["transport"];
  hostname: string;
  clock: LamportClock;
  revoked: RevokedSet;
  log: { info(msg: string): void; warn(msg: string): void };
}

/**
 * celery/worker/consumer/mingle.py `Mingle.sync` (5.7.0): `hello` to every worker, merge their
 * revoked ids and clocks. A failed or silent mingle is logged and the worker starts anyway.
 */
export async function mingle(options: MingleOptions): Promise<void> {
  const s = options.settings;
  const control = new Control(
    {
      settings: s,
      oid: options.oid,
      transport: options.transport,
    },
    options.clock,
  );
  try {
    const ours = s.compat.helloRevokedAsList ? options.revoked.ids() : options.revoked.asMap();
    const replies = (await control.inspect({ timeout: 1 }).hello(options.hostname, ours)) ?? {};
    delete replies[options.hostname];
    const nodes = Object.entries(replies).filter(([, v]) => v);
    options.log.info(nodes.length > 0 ? `mingle: sync with ${nodes.length} nodes` : "mingle: all alone");
    for (const [, reply] of nodes) {
      const r = reply as { clock?: unknown; revoked?: unknown };
      if (r.clock) options.clock.adjust(r.clock);
      else options.clock.forward();
      if (r.revoked) options.revoked.merge(r.revoked);
    }
  } catch (err) {
    options.log.warn(`mingle: ${(err as Error).message}`);
  } finally {
    await control.close();
  }
}
