/**
 * Task-name globs in `task_routes`, as Celery 5.2-5.7 reads them: `MapRoute.__init__`
 * (celery/app/routes.py, 5.7.0) compiles a key holding `*` with `fnmatch.translate` and tests it
 * with `re.match`. So `*` matches any run of characters (also none), `?` one character, `[seq]` /
 * `[!seq]` a set (ranges `a-z`; a `[` with no closing `]` is literal), everything else is literal,
 * and the whole name must match. (Celery 4's `glob_to_re`, `*` = `.+?` and a prefix match, is
 * gone since Celery 5.0: `*.add` no longer routes `x.addition`.)
 */

/** Characters that must be escaped in a JS pattern under the `u` flag, outside a set. */
const SYNTAX = /[\\^$.*+?()[\]{}|/]/;
/** Characters that must be escaped inside a JS set under the `u` flag. */
const SET_SYNTAX = /[\\\][^-]/;

const literal = (ch: string): string => (SYNTAX.test(ch) ? `\\${ch}` : ch);
const setMember = (ch: string): string => (SET_SYNTAX.test(ch) ? `\\${ch}` : ch);

/**
 * The body of a `[...]` set (without the brackets) as a JS pattern. A reversed range (`z-a`)
 * matches nothing, as fnmatch drops it; an empty set never matches, an empty negated set matches
 * any one character.
 */
function translateSet(body: string): string {
  const negated = body.startsWith("!");
  const chars = [...(negated ? body.slice(1) : body)];
  const members: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    const hi = chars[i + 2];
    if (chars[i + 1] === "-" && hi !== undefined) {
      if ((ch.codePointAt(0) ?? 0) <= (hi.codePointAt(0) ?? 0))
        members.push(`${setMember(ch)}-${setMember(hi)}`);
      i += 2;
    } else members.push(setMember(ch));
  }
  if (members.length === 0) return negated ? "." : "(?!)";
  return `[${negated ? "^" : ""}${members.join("")}]`;
}

/** Where the `[` at `open` closes (fnmatch: a `]` right after `[` or `[!` is a member), or -1. */
function setEnd(chars: readonly string[], open: number): number {
  let j = open + 1;
  if (chars[j] === "!") j++;
  if (chars[j] === "]") j++;
  while (j < chars.length && chars[j] !== "]") j++;
  return j < chars.length ? j : -1;
}

/** A `task_routes` glob as a RegExp that must match the whole task name. */
export function routeGlobToRegExp(glob: string): RegExp {
  const chars = [...glob];
  let out = "";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === "*") {
      if (chars[i - 1] !== "*") out += ".*"; // a run of stars is one
    } else if (ch === "?") out += ".";
    else if (ch === "[") {
      const end = setEnd(chars, i);
      if (end < 0) out += "\\[";
      else {
        out += translateSet(chars.slice(i + 1, end).join(""));
        i = end;
      }
    } else out += literal(ch);
  }
  return new RegExp(`^(?:${out})$`, "su");
}
