import { pyRepr } from "../protocol/py-repr.js";
import type { WorkerControlHost } from "./host.js";
import { defaultdictOfSetsRepr, maybeList, pyEquals, stampedHeadersArgument } from "./revoked-stamps.js";

/**
 * celery/worker/control.py `revoke_by_stamped_headers` (5.7.0): the stamps are added to the
 * worker's revoked stamps (a queued or scheduled task carrying one is discarded when it would run,
 * `Request.revoked`); with `terminate`, the running tasks whose stamps match are terminated too.
 * The reply texts are Celery's, with Python's repr of the headers.
 */
export function revokeByStampedHeaders(host: WorkerControlHost, args: Record<string, unknown>): unknown {
  const headers = stampedHeadersArgument(args.headers);
  if (headers === null) {
    return { error: `headers must be a dict or a list of key=value strings (got ${pyRepr(args.headers)})` };
  }
  if (!host.revokedStamps) return { error: "revoke_by_stamped_headers is not supported by this worker" };
  host.revokedStamps.add(headers);
  if (args.terminate !== true)
    return { ok: `headers ${pyRepr(headers)} flagged as revoked, but not terminated` };
  const signal = typeof args.signal === "string" && args.signal !== "" ? args.signal : "SIGTERM";
  const terminated = new Map<string, unknown[]>();
  for (const request of host.activeStamps?.() ?? []) {
    for (const [name, expected] of Object.entries(headers)) {
      if (!Object.hasOwn(request.stamps, name)) continue;
      const actual = request.stamps[name];
      if (actual === null || actual === undefined) continue;
      // set(maybe_list(actual)) & set(maybe_list(expected))
      const wanted = maybeList(expected);
      const matching = maybeList(actual).filter((v) => wanted.some((w) => pyEquals(v, w)));
      if (matching.length === 0) continue;
      const seen = terminated.get(name) ?? [];
      for (const value of matching) if (!seen.some((s) => pyEquals(s, value))) seen.push(value);
      terminated.set(name, seen);
      host.terminate(request.id, signal);
    }
  }
  if (terminated.size === 0) return { ok: `headers ${pyRepr(headers)} were not terminated` };
  return { ok: `headers ${defaultdictOfSetsRepr(terminated)} revoked` };
}
