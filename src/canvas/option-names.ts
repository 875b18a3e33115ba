/** Every option `sendTask` / `applyAsync` / `Signature.set` takes: the keys of `SendTaskOptions` (canvas/options.ts). */
export const SEND_OPTION_NAMES = [
  "countdown",
  "eta",
  "expires",
  "priority",
  "queue",
  "exchange",
  "routingKey",
  "headers",
  "taskId",
  "shadow",
  "timeLimit",
  "softTimeLimit",
  "ignoreResult",
  "serializer",
  "compression",
  "replyTo",
  "link",
  "linkError",
  "parentId",
  "rootId",
  "groupId",
  "groupIndex",
  "argsrepr",
  "kwargsrepr",
] as const;

/** camelCase `sendTask` option names -> Celery's `apply_async` keyword names. */
export function snakeOption(key: string): string {
  return key === "linkError" ? "link_error" : key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** What `Signature.set` accepts: every send option, camelCase or snake_case. */
export const SIGNATURE_OPTION_NAMES: readonly string[] = [
  ...new Set([...SEND_OPTION_NAMES, ...SEND_OPTION_NAMES.map(snakeOption)]),
];
