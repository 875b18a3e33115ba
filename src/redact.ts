/**
 * Credentials never reach an error message or a log line. Celery masks the password of a URL
 * it prints (kombu/utils/url.py `maybe_sanitize_url`, 5.7.0: `scheme://user:**@host`); here the
 * same is done on any text, so a URL quoted inside an error message is masked too.
 */

/**
 * `scheme://user:password@` anywhere in `text` becomes `scheme://user:***@`. The password runs
 * to the last `@` of the URL (a password may contain `@` or `/`; over-masking beats leaking).
 */
export function redactUrl(text: string): string {
  if (!text.includes("://")) return text;
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@"'`]*:)([^\s"'`]*)@/gi, "$1***@");
}

/**
 * A URL quoted in an error message, everything before its last `@` masked (user and password,
 * whatever characters the password holds), even when the URL is too broken for
 * {@link redactUrl} to see (no `scheme://`: `":secret@host"`, `"redis:/:secret@host"`).
 */
export function quoteUrl(url: string): string {
  return JSON.stringify(url.replace(/^((?:[a-z][a-z0-9+.-]*:\/*)?).*@/i, "$1***@"));
}
