/**
 * YAML nesting checks, run before the yaml package's recursive composer and `toJS` can see a
 * deep document (a flow sequence 5 000 levels deep, 10 KB of text, overflows V8's stack inside
 * its regexp compiler: a fatal abort no try/catch can stop).
 *
 * 1. {@link checkYamlTextDepth}, on the text, with the yaml package's own lexer (iterative, so
 *    quoted scalars are skipped exactly as the parser will read them): an upper bound on nesting.
 *    Flow collections count one level per open `[`/`{`. Block collections are bounded by
 *    columns: along any path of block nodes the indentation never decreases and only a
 *    mapping -> sequence step may keep it (YAML 1.1/1.2 "block sequence as a mapping value"),
 *    so a block node starting at column c is at most 2 × (c + 1) levels deep. The bound is exact
 *    for flow text and generous for block text: PyYAML's block output (2 spaces a level) is
 *    refused only past a quarter of the limit (128 levels at the 512 default).
 * 2. {@link checkYamlAliasDepth}, on the composed document: aliases can stack levels that the
 *    text does not show (`b: &b [*a]`, `c: &c [*b]`, ...), so the depth with every alias
 *    resolved is computed bottom-up, in document order (an anchor precedes its aliases), and a
 *    recursive alias (a node that contains itself) is refused: it has no finite depth.
 */
import type { Document, Node } from "yaml";
import { DecodeError } from "../errors.js";
import { tooDeep } from "./budget.js";

/** Lexer tokens that take no room in the text (yaml's CST markers). */
const ZERO_WIDTH = new Set(["doc-mode", "flow-error-end", "scalar", "byte-order-mark"]);

/** The yaml package (loaded on first use by yaml.ts). */
type YamlLib = typeof import("yaml");

/** Throws when the text may nest deeper than `maxDepth` (see the module comment for the bound). */
export function checkYamlTextDepth(lib: YamlLib, text: string, maxDepth: number): void {
  const { CST, Lexer } = lib;
  if (text.length <= maxDepth / 2) return; // every level costs at least two characters
  let flow = 0; // open flow collections
  let blockAtFlow = 0; // bound of the block context the outermost flow collection sits in
  let col = 0; // column of the token being read
  let nodeCol = 0; // column where the innermost block node of this line starts
  let nodeStartPending = true; // the next content token starts a node (line start, after - ? :)
  const check = (bound: number) => {
    if (bound > maxDepth) throw tooDeep(maxDepth, "YAML document");
  };
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    const width = type && ZERO_WIDTH.has(type) ? 0 : token.length;
    if (type === "space" || type === "comment" || width === 0) {
      col = advance(col, token, width);
      continue;
    }
    if (type === "newline") {
      col = 0;
      if (flow === 0) {
        nodeCol = 0;
        nodeStartPending = true;
      }
      continue;
    }
    if (flow === 0) {
      if (nodeStartPending) {
        nodeCol = col;
        nodeStartPending = false;
      }
      switch (type) {
        case "seq-item-ind":
        case "explicit-key-ind":
          check(2 * (col + 1));
          nodeStartPending = true;
          break;
        case "map-value-ind":
          check(2 * (nodeCol + 1));
          nodeStartPending = true;
          break;
        case "flow-seq-start":
        case "flow-map-start":
          blockAtFlow = 2 * (col + 1);
          flow = 1;
          check(blockAtFlow + flow);
          break;
        default:
          break;
      }
    } else if (type === "flow-seq-start" || type === "flow-map-start") {
      flow++;
      check(blockAtFlow + flow);
    } else if (type === "flow-seq-end" || type === "flow-map-end") {
      flow--;
    }
    col = advance(col, token, width);
  }
}

function advance(col: number, token: string, width: number): number {
  if (width === 0) return col;
  const lastNewline = token.lastIndexOf("\n");
  return lastNewline === -1 ? col + width : token.length - lastNewline - 1;
}

/**
 * Throws when the composed document, with aliases resolved, nests deeper than `maxDepth`, or
 * holds an alias to one of its own ancestors. The walk recurses only along the text's own
 * nesting (already bounded by {@link checkYamlTextDepth}); an alias costs one map lookup.
 */
export function checkYamlAliasDepth(lib: YamlLib, doc: Document, maxDepth: number): void {
  const { isAlias, isMap, isPair, isScalar, isSeq } = lib;
  const depthOf = new Map<unknown, number>();
  const open = new Set<unknown>();
  const walk = (node: unknown): number => {
    if (node === null || node === undefined || isScalar(node)) return 0;
    const known = depthOf.get(node);
    if (known !== undefined) return known;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target === undefined) return 0; // an unknown anchor: the parser reports it
      if (open.has(target)) throw new DecodeError("Invalid YAML body: a recursive alias has no finite depth");
      return walk(target);
    }
    open.add(node);
    let depth = 0;
    if (isPair(node)) {
      depth = Math.max(walk(node.key), walk(node.value));
    } else if (isMap(node) || isSeq(node)) {
      let deepest = 0;
      for (const item of node.items as unknown[]) deepest = Math.max(deepest, walk(item));
      depth = deepest + 1;
    }
    open.delete(node);
    if (depth > maxDepth) throw tooDeep(maxDepth, "YAML document (aliases resolved)");
    depthOf.set(node, depth);
    return depth;
  };
  walk(doc.contents as Node | null);
}
