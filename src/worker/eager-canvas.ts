import { randomUUID } from "node:crypto";
import { Chain, Chord, Group, type Signature } from "../canvas/signature.js";
import { applyAsync, type CanvasApp } from "../client/canvas-apply.js";
import { type AnyResult, GroupResult } from "../client/result.js";
import { NotRegisteredError } from "../errors.js";
import { roundTripArgs } from "./eager-args.js";
import { applyTaskEagerly, type EagerHost, eagerOptions } from "./eager-task.js";
import type { TaskRegistry } from "./task-registry.js";

/**
 * Workflows run in this process (celery/canvas.py `Signature.apply`, `_chain.apply`,
 * `group.apply`, `_chord.apply`, 5.7.0), and the choice `sig.applyAsync()` makes under
 * `taskAlwaysEager` (`Task.apply_async`, `_chain.apply_async`, `group.apply_async`,
 * `_chord.apply_async`: `if app.conf.task_always_eager: return self.apply(...)`).
 */
export interface EagerCanvasHost extends EagerHost, CanvasApp {
  readonly registry: TaskRegistry;
  readonly settings: CanvasApp["settings"];
}

/**
 * `sig.apply(args, kwargs, **options)`: a task runs through {@link applyTaskEagerly} (it must be
 * registered in the app: NotRegisteredError otherwise, Celery's `self.type` lookup); a chain runs
 * step by step, each getting the previous value (a failed step's error is thrown, as `last.get()`
 * raises); a group runs its members in order into a GroupResult; a chord runs its header, then its
 * body with the list of header values.
 */
export async function applyEagerly(
  host: EagerCanvasHost,
  sig: Signature,
  args: readonly unknown[] = [],
  kwargs: Record<string, unknown> = {},
  options: Record<string, unknown> = {},
): Promise<AnyResult> {
  if (sig instanceof Chain) {
    let last: AnyResult | null = null;
    let partial: { args: readonly unknown[]; kwargs: Record<string, unknown> } = { args, kwargs };
    for (const step of sig.tasks) {
      const stepArgs: unknown[] = last === null ? [] : [await last.get()];
      const res: AnyResult = await applyEagerly(
        host,
        step.clone(partial.args, partial.kwargs),
        stepArgs,
        {},
        { ...sig.options, ...options },
      );
      res.parent = last;
      last = res;
      partial = { args: [], kwargs: {} };
    }
    return last ?? new GroupResult(randomUUID(), [], null);
  }
  if (sig instanceof Group) {
    const { task_id, ...rest } = { ...sig.options, ...options };
    const groupId = typeof task_id === "string" ? task_id : randomUUID();
    const results: AnyResult[] = [];
    for (const member of sig.tasks) {
      results.push(await applyEagerly(host, member, args, kwargs, { ...rest, group_id: groupId }));
    }
    return new GroupResult(groupId, results, null);
  }
  if (sig instanceof Chord) {
    const header = await applyEagerly(host, sig.header.clone(), args, kwargs);
    return applyEagerly(host, sig.body, [await header.get()]);
  }
  const task = host.registry.get(sig.task);
  if (!task) throw new NotRegisteredError(sig.task);
  const merged = sig.merge(args, kwargs, options);
  return applyTaskEagerly(host, task, merged.args, merged.kwargs, eagerOptions(merged.options));
}

/**
 * `sig.applyAsync()` through an app: under `taskAlwaysEager`, a workflow runs in-process and so
 * does a task registered in the app; a task it does not know is sent, as Celery's
 * `Signature.apply_async` falls back to `app.send_task`. Otherwise everything is sent.
 */
export function applyThroughApp(
  host: EagerCanvasHost & { readonly settings: { readonly taskAlwaysEager: boolean } },
  sig: Signature,
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  options: Record<string, unknown>,
): Promise<AnyResult> {
  if (!host.settings.taskAlwaysEager) return applyAsync(host, sig, args, kwargs, options);
  if (sig instanceof Chain || sig instanceof Group || sig instanceof Chord) {
    return applyEagerly(host, sig, args, kwargs, options);
  }
  const task = host.registry.get(sig.task);
  if (!task) return applyAsync(host, sig, args, kwargs, options);
  // Signature.apply_async -> Task.apply_async: the args go through the task serializer first.
  const merged = sig.merge(args, kwargs, options);
  const serializer = typeof merged.options.serializer === "string" ? merged.options.serializer : null;
  const sent = roundTripArgs(
    merged.args,
    merged.kwargs,
    serializer ?? host.settings.taskSerializer,
    host.settings.compat,
  );
  return applyTaskEagerly(host, task, sent.args, sent.kwargs, eagerOptions(merged.options));
}
