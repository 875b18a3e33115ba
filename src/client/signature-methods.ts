import { Chain, Chord, Group, Signature, type SignatureApp } from "../canvas/signature.js";
import { currentApp } from "./current-app.js";
import type { EagerResult } from "./eager-result.js";
import type { AnyResult, AsyncResult, GroupResult } from "./result.js";

/**
 * `sig.applyAsync()`, `sig.delay()` and `sig.apply()` on every canvas signature (celery/canvas.py
 * `Signature.apply_async` / `delay` / `apply`, `_chain`, `group`, `_chord`), so a workflow starts
 * itself as in Celery: `chain(add.s(2, 3), double.s()).applyAsync()`.
 *
 * Which app sends it (Celery's `Signature.app`): `options.app` when given, else the app the
 * signature is bound to (`app.signature(...)`, a task handle's `.s()`; a chain or group: its first
 * task's, a chord: its header's first task's, else its body's), else the current app (the most
 * recently created `Celery`, as `current_app`). The canvas layer keeps signatures as data; these
 * methods are installed on `Signature.prototype` here, where the result types live.
 */

/** `apply_async` options (camelCase or snake_case) plus the app to send through. */
export interface WorkflowApplyOptions extends Record<string, unknown> {
  app?: SignatureApp;
}

/*
 * The result types below match on the type-only markers (`subtaskType`, `resultType`, `lastStep`)
 * rather than on the classes, whose methods return these types (a class match would be circular).
 */
type GroupLike<T> = { readonly subtaskType: "group"; readonly resultType?: T[] | undefined };
type ChainLike<R, L> = {
  readonly subtaskType: "chain";
  readonly resultType?: R | undefined;
  readonly lastStep?: L | undefined;
};
type ResultTypeOf<S> = S extends { readonly resultType?: infer R } ? R : unknown;
type OneTask = { readonly subtaskType: null } | { readonly subtaskType: "chord" };

/**
 * What `applyAsync()` resolves to: an AsyncResult for one task (`s()`, a handle's `.s()`) or a
 * chord, a GroupResult for a group or a chain ending in one; for a signature of unknown kind
 * (a plain `Signature`), either.
 */
export type AppliedResult<S> = S extends OneTask
  ? AsyncResult<ResultTypeOf<S>>
  : S extends GroupLike<infer T>
    ? GroupResult<T>
    : S extends ChainLike<infer R, infer L>
      ? L extends GroupLike<infer T>
        ? GroupResult<T>
        : AsyncResult<R>
      : AsyncResult<ResultTypeOf<S>> | GroupResult<unknown>;

/** What `apply()` resolves to: an EagerResult, or a GroupResult of EagerResults for a group. */
export type EagerAppliedResult<S> = S extends OneTask
  ? EagerResult<ResultTypeOf<S>>
  : S extends GroupLike<infer T>
    ? GroupResult<T>
    : S extends ChainLike<infer R, infer L>
      ? L extends GroupLike<infer T>
        ? GroupResult<T>
        : EagerResult<R>
      : EagerResult<ResultTypeOf<S>> | GroupResult<unknown>;

/** How an app starts a signature: sent (`apply_async`) or run in this process (`apply`). */
export interface SignatureAppliers {
  /** `sig.apply_async(args, kwargs, **options)` through this app (in-process under `taskAlwaysEager`). */
  applySignature(
    sig: Signature,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): Promise<AnyResult>;
  /** `sig.apply(args, kwargs, **options)`: runs it in this process with this app's tasks. */
  applySignatureEagerly(
    sig: Signature,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: Record<string, unknown>,
  ): Promise<AnyResult>;
}

declare module "../canvas/signature.js" {
  interface SignatureApp extends SignatureAppliers {}
  interface Signature<R> {
    /**
     * Sends this signature or workflow (`Signature.apply_async`): partial `args` are prepended
     * (unless immutable), `options` are `apply_async` options plus `app`. Under the app's
     * `taskAlwaysEager` it runs in-process instead, as Celery does.
     */
    applyAsync(
      args?: readonly unknown[],
      kwargs?: Record<string, unknown>,
      options?: WorkflowApplyOptions,
    ): Promise<AppliedResult<this>>;
    /** `Signature.delay(*args)`: `applyAsync(args)`. */
    delay(...args: unknown[]): Promise<AppliedResult<this>>;
    /**
     * Runs this signature or workflow in this process (`Signature.apply`): every task must be
     * registered in the app (`app.task`); see `handle.apply()` for the eager semantics.
     */
    apply(
      args?: readonly unknown[],
      kwargs?: Record<string, unknown>,
      options?: WorkflowApplyOptions,
    ): Promise<EagerAppliedResult<this>>;
  }
}

/** The app a signature is bound to (`Signature.app`, `group.app`, `_chain.app`, `_chord._get_app`). */
export function boundAppOf(sig: Signature): SignatureApp | undefined {
  if (sig.app !== undefined) return sig.app;
  if (sig instanceof Chain || sig instanceof Group) {
    const first = sig.tasks[0];
    return first ? boundAppOf(first) : undefined;
  }
  if (sig instanceof Chord) {
    const first = sig.header.tasks[0];
    return (first ? boundAppOf(first) : undefined) ?? boundAppOf(sig.body);
  }
  return undefined;
}

function split(sig: Signature, options: WorkflowApplyOptions | undefined) {
  const { app, ...rest } = options ?? {};
  return { app: app ?? boundAppOf(sig) ?? currentApp<SignatureApp>(), options: rest };
}

type Untyped = Record<string, (...args: unknown[]) => unknown>;

for (const [name, method] of Object.entries({
  async applyAsync(
    this: Signature,
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options?: WorkflowApplyOptions,
  ) {
    const target = split(this, options);
    return target.app.applySignature(this, args, kwargs, target.options);
  },
  async delay(this: Signature, ...args: unknown[]) {
    const target = split(this, undefined);
    return target.app.applySignature(this, args, {}, {});
  },
  async apply(
    this: Signature,
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options?: WorkflowApplyOptions,
  ) {
    const target = split(this, options);
    return target.app.applySignatureEagerly(this, args, kwargs, target.options);
  },
} satisfies Untyped | Record<string, unknown>)) {
  Object.defineProperty(Signature.prototype, name, { value: method, writable: true, configurable: true });
}
