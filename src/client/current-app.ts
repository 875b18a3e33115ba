import { ConfigError } from "../errors.js";

/**
 * The current app (celery/_state.py `current_app`): the app a workflow built with `s()` /
 * `chain()` / `group()` / `chord()` is sent through when none is bound to it and none is passed
 * as `{ app }`. As in Celery (`Celery(set_as_current=True)`), the most recently created app is
 * current; closing it clears it.
 */
let current: object | null = null;

/** Makes `app` the current app (`app.set_current()`). */
export function setCurrentApp(app: object): void {
  current = app;
}

/** Clears the current app if it is `app` (the app closed). */
export function clearCurrentApp(app: object): void {
  if (current === app) current = null;
}

/** The current app; a ConfigError naming `app` when there is none. */
export function currentApp<T extends object>(): T {
  if (current === null) {
    throw new ConfigError(
      "app",
      "no Celery app to send this signature through: create one (new Celery(...)) or pass { app } to applyAsync()",
    );
  }
  return current as T;
}
