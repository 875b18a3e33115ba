import type { PyNamedType, PyParam, PyReport, PyTask, PyType } from "./introspect.js";

/**
 * The TypeScript module `celeriac stubs` writes: one named type per TypedDict / pydantic model /
 * dataclass / enum the tasks use, a `PythonTaskTypes` map (args, kwargs, result by task name)
 * and `pythonTasks(app)`, which returns a typed handle per task (`app.signature()` with the
 * task's argument and result types, and typed keyword arguments on `applyAsync`).
 */
export interface RenderOptions {
  /** The `-A` value, for the header. */
  appSpec: string;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** A property key as written in TS (quoted unless it is an identifier). */
function key(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

function camel(text: string): string {
  const cleaned = text.replace(/[^\w$]+/g, "_");
  const out = cleaned.replace(/_+([A-Za-z0-9])/g, (_m, c: string) => c.toUpperCase()).replace(/_+$/, "");
  return /^[0-9]/.test(out) ? `_${out}` : out || "_";
}

function pascal(text: string): string {
  const c = camel(text);
  return c.startsWith("_") ? c : c.charAt(0).toUpperCase() + c.slice(1);
}

/**
 * Short unique names from dotted paths: the last segment, with more leading segments only
 * where two paths would otherwise collide (`proj.tasks.add` -> `add`; with `other.add` as well:
 * `tasksAdd` and `otherAdd`).
 */
export function uniqueNames(paths: readonly string[], style: (text: string) => string): Map<string, string> {
  const out = new Map<string, string>();
  const segments = new Map(paths.map((p) => [p, p.split(".")]));
  let depth = 1;
  let pending = [...paths];
  while (pending.length > 0) {
    const proposals = new Map<string, string[]>();
    for (const path of pending) {
      const parts = segments.get(path) ?? [path];
      const name = style(parts.slice(-depth).join("_"));
      proposals.set(name, [...(proposals.get(name) ?? []), path]);
    }
    const next: string[] = [];
    for (const [name, owners] of proposals) {
      const exhausted = owners.every((p) => (segments.get(p)?.length ?? 1) <= depth);
      if (owners.length === 1 || exhausted) {
        owners.forEach((p, i) => {
          out.set(p, i === 0 ? name : `${name}${i + 1}`);
        });
      } else next.push(...owners);
    }
    pending = next;
    depth += 1;
  }
  return out;
}

class Renderer {
  private readonly typeNames: Map<string, string>;

  constructor(report: PyReport) {
    this.typeNames = uniqueNames(Object.keys(report.types), pascal);
  }

  type(t: PyType): string {
    switch (t.k) {
      case "number":
      case "string":
      case "boolean":
      case "null":
      case "unknown":
        return t.k;
      case "bytes":
        return "Uint8Array";
      case "array": {
        const inner = this.type(t.of);
        return /[|&\s]/.test(inner) ? `(${inner})[]` : `${inner}[]`;
      }
      case "tuple":
        return `[${t.items.map((i) => this.type(i)).join(", ")}]`;
      case "record":
        return `Record<string, ${this.type(t.of)}>`;
      case "union": {
        const parts = [...new Set(t.of.map((o) => this.type(o)))];
        return parts.includes("unknown") ? "unknown" : parts.join(" | ");
      }
      case "literal":
        return t.values.map((v) => JSON.stringify(v)).join(" | ");
      case "ref":
        return this.typeNames.get(t.name) ?? "unknown";
    }
  }

  namedType(qualified: string, named: PyNamedType): string {
    const name = this.typeNames.get(qualified) ?? "unknown";
    const what = { typeddict: "TypedDict", pydantic: "pydantic model", dataclass: "dataclass", enum: "Enum" }[
      named.kind
    ];
    const lines = [`/** \`${qualified}\` (${what ?? named.kind})${docSuffix(named.doc)} */`];
    if (named.kind === "enum") {
      lines.push(
        `export type ${name} = ${(named.values ?? []).map((v) => JSON.stringify(v)).join(" | ") || "never"};`,
      );
      return lines.join("\n");
    }
    lines.push(`export interface ${name} {`);
    for (const f of named.fields ?? [])
      lines.push(`  ${key(f.name)}${f.required ? "" : "?"}: ${this.type(f.type)};`);
    lines.push("}");
    return lines.join("\n");
  }

  /** `[x: number, y?: number, ...rest: string[]]`: what `delay(...)` takes. */
  args(task: PyTask): string {
    const items: string[] = [];
    for (const p of task.params) {
      if (p.kind === "POSITIONAL_ONLY" || p.kind === "POSITIONAL_OR_KEYWORD")
        items.push(`${label(p.name)}${p.hasDefault ? "?" : ""}: ${this.type(p.type)}`);
      else if (p.kind === "VAR_POSITIONAL")
        items.push(`...${label(p.name)}: ${this.type({ k: "array", of: p.type })}`);
    }
    return `[${items.join(", ")}]`;
  }

  /** Keyword arguments as Celery's `apply_async(kwargs=...)` takes them (required = no default). */
  kwargs(task: PyTask): string {
    if (task.params.some((p) => p.kind === "POSITIONAL_ONLY" && !p.hasDefault)) return "never";
    const members: string[] = [];
    let rest: PyParam | undefined;
    for (const p of task.params) {
      if (p.kind === "POSITIONAL_OR_KEYWORD" || p.kind === "KEYWORD_ONLY")
        members.push(`${key(p.name)}${p.hasDefault ? "?" : ""}: ${this.type(p.type)}`);
      else if (p.kind === "VAR_KEYWORD") rest = p;
    }
    if (rest) members.push(`[${label(rest.name)}: string]: unknown`);
    return members.length === 0 ? "Record<string, never>" : `{ ${members.join("; ")} }`;
  }

  signatureText(task: PyTask): string {
    const params: string[] = [];
    const bareStar = !task.params.some((p) => p.kind === "VAR_POSITIONAL");
    for (const p of task.params) {
      if (p.kind === "KEYWORD_ONLY" && bareStar && !params.includes("*")) params.push("*");
      const star = p.kind === "VAR_POSITIONAL" ? "*" : p.kind === "VAR_KEYWORD" ? "**" : "";
      params.push(
        `${star}${p.name}${p.annotation ? `: ${p.annotation}` : ""}${p.hasDefault ? " = ..." : ""}`,
      );
    }
    return `${task.name}(${params.join(", ")})${task.returnAnnotation ? ` -> ${task.returnAnnotation}` : ""}`;
  }
}

/** A tuple label cannot be a reserved word in some positions; prefix the few that clash. */
function label(name: string): string {
  const safe = name.replace(/[^\w$]/g, "_");
  return /^(this|new|function|class|delete|void|typeof|in|instanceof)$/.test(safe) ? `_${safe}` : safe;
}

function docSuffix(doc: string | null): string {
  if (!doc) return "";
  const first = doc.split("\n")[0]?.trim() ?? "";
  return first ? `: ${first.replace(/\*\//g, "* /")}` : "";
}

export function renderStubs(report: PyReport, options: RenderOptions): string {
  const r = new Renderer(report);
  const handleNames = uniqueNames(
    report.tasks.map((t) => t.name),
    camel,
  );
  const out: string[] = [
    `// Generated by \`celeriac stubs -A ${options.appSpec}\` from Celery ${report.celery} on Python ${report.python}.`,
    "// Do not edit: run the command again when the Python tasks change.",
    'import type { AsyncResult, Celery, SendTaskOptions, TaskSignature } from "celeriac";',
    "",
    "/** A handle on a Python task: `TaskSignature` with its keyword arguments typed as well. */",
    "export interface PythonTask<Args extends unknown[], Kwargs extends object, Result>",
    '  extends Omit<TaskSignature<Args, Result>, "applyAsync"> {',
    "  /** Positional arguments, plus any keyword arguments (Celery's `apply_async(args, kwargs)`). */",
    "  applyAsync(args: Args, kwargs?: Partial<Kwargs>, options?: SendTaskOptions): Promise<AsyncResult<Result>>;",
    "  /** Keyword arguments only. */",
    "  applyAsync(args: [] | null | undefined, kwargs: Kwargs, options?: SendTaskOptions): Promise<AsyncResult<Result>>;",
    "}",
    "",
  ];
  const handleType = [
    "/** The handle type of the Python task named `N`. */",
    "export type PythonTaskHandle<N extends keyof PythonTaskTypes> = PythonTask<",
    '  PythonTaskTypes[N]["args"],',
    '  PythonTaskTypes[N]["kwargs"],',
    '  PythonTaskTypes[N]["result"]',
    ">;",
    "",
    "function handle<N extends keyof PythonTaskTypes>(app: Celery, name: N): PythonTaskHandle<N> {",
    "  return app.signature(name) as PythonTaskHandle<N>;",
    "}",
    "",
  ];
  for (const [qualified, named] of Object.entries(report.types)) out.push(r.namedType(qualified, named), "");
  out.push("/** Arguments, keyword arguments and result of each Python task, by task name. */");
  out.push("export interface PythonTaskTypes {");
  for (const task of report.tasks) {
    out.push(
      `  ${JSON.stringify(task.name)}: { args: ${r.args(task)}; kwargs: ${r.kwargs(task)}; result: ${r.type(task.returns)} };`,
    );
  }
  out.push("}", "", ...handleType);
  out.push(
    "/**",
    ` * Typed handles on the Python tasks of \`${options.appSpec}\`: \`tasks.add.delay(2, 3)\`.`,
    " * Untyped parameters and results are `unknown`; Python types with no JSON form here are `unknown` too.",
    " */",
    "export function pythonTasks(app: Celery) {",
    "  return {",
  );
  for (const task of report.tasks) {
    const doc = [`\`${r.signatureText(task)}\``];
    if (task.pydantic) doc.push("(pydantic=True: models travel as their dicts)");
    const first = task.doc?.split("\n")[0]?.trim();
    if (first) doc.push(`- ${first}`);
    out.push(`    /** ${doc.join(" ").replace(/\*\//g, "* /")} */`);
    out.push(
      `    ${key(handleNames.get(task.name) ?? camel(task.name))}: handle(app, ${JSON.stringify(task.name)}),`,
    );
  }
  out.push("  };", "}", "");
  return out.join("\n");
}
