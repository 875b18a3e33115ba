import { createHash } from "node:crypto";

/**
 * One of Celeriac's Lua scripts (the Redis take, the result store), run with EVALSHA: the text
 * goes over the wire only when the server answers NOSCRIPT (a new server, a restart,
 * `SCRIPT FLUSH`), and that EVAL loads it for the next EVALSHA.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly text: string) {
    this.sha = createHash("sha1").update(text).digest("hex");
  }
}

/** The server does not know the script (yet): run it once with EVAL. */
export function isNoScript(err: unknown): boolean {
  return /NOSCRIPT/.test(String((err as Error | null)?.message));
}
