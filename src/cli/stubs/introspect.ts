import { spawn } from "node:child_process";
import { CliError, EX_FAILURE } from "../errors.js";

/**
 * What the Python side reports about an app's tasks (`celeriac stubs`): written by
 * {@link INTROSPECT_PY}, read by render.ts. Types are a small tree, not TS text, so the
 * rendering (names, quoting, optional members) stays on the TS side.
 */
export type PyType =
  | { k: "number" | "string" | "boolean" | "null" | "unknown" | "bytes"; py?: string }
  | { k: "array"; of: PyType }
  | { k: "tuple"; items: PyType[] }
  | { k: "record"; of: PyType }
  | { k: "union"; of: PyType[] }
  | { k: "literal"; values: (string | number | boolean | null)[] }
  | { k: "ref"; name: string };

/** inspect.Parameter kinds, by name. */
export type ParamKind =
  | "POSITIONAL_ONLY"
  | "POSITIONAL_OR_KEYWORD"
  | "VAR_POSITIONAL"
  | "KEYWORD_ONLY"
  | "VAR_KEYWORD";

export interface PyParam {
  name: string;
  kind: ParamKind;
  hasDefault: boolean;
  type: PyType;
  /** The annotation as Python prints it (null when unannotated). */
  annotation: string | null;
}

export interface PyTask {
  name: string;
  module: string;
  doc: string | null;
  /** `@app.task(pydantic=True)`: models are validated from dicts and results dumped (Celery 5.5+). */
  pydantic: boolean;
  params: PyParam[];
  returns: PyType;
  returnAnnotation: string | null;
}

export interface PyNamedType {
  /** "typeddict" | "pydantic" | "dataclass" | "enum". */
  kind: string;
  doc: string | null;
  fields?: { name: string; required: boolean; type: PyType }[];
  values?: (string | number | boolean | null)[];
}

export interface PyReport {
  celery: string;
  python: string;
  tasks: PyTask[];
  /** Named types (TypedDict, pydantic models, dataclasses, enums) by `module.QualName`. */
  types: Record<string, PyNamedType>;
}

/**
 * Run by the app's own interpreter: `python -c INTROSPECT_PY <app spec> <builtins 0|1>`.
 * Loads the app as `celery -A` does (celery/app/utils.py `find_app`), imports its task modules
 * (`loader.import_default_modules`, which also runs `autodiscover_tasks`), finalizes it and
 * prints one JSON report of `app.tasks`: each task's parameters from `inspect.signature` of the
 * callable Celery registered (`Task._decorated_fun` on 5.7, else `run`, unwrapped), types from
 * `typing.get_type_hints` (string annotations resolved in the task's module).
 */
export const INTROSPECT_PY = String.raw`
import dataclasses, enum, inspect, json, os, sys, types, typing

def main():
    spec, builtins = sys.argv[1], sys.argv[2] == "1"
    sys.path.insert(0, os.getcwd())
    import celery
    from celery.app.utils import find_app
    app = find_app(spec)
    if isinstance(app, types.ModuleType):
        raise SystemExit("celeriac stubs: %r is a module, not a Celery app (use module:attribute)" % spec)
    app.loader.import_default_modules()
    app.finalize(auto=True)
    named = {}
    tasks = []
    for name in sorted(app.tasks.keys()):
        if name.startswith("celery.") and not builtins:
            continue
        tasks.append(describe_task(app.tasks[name], named))
    out = {"celery": celery.__version__, "python": sys.version.split()[0], "tasks": tasks, "types": named}
    sys.stdout.write("CELERIAC-STUBS " + json.dumps(out) + "\n")

def describe_task(task, named):
    run = task.run
    pydantic = getattr(task, "_dump_pydantic_arguments", None) is not None
    try:
        sig = inspect.signature(run)
    except (TypeError, ValueError):
        sig = None
    try:
        hints = typing.get_type_hints(inspect.unwrap(getattr(run, "__func__", run)))
    except Exception:
        hints = dict(getattr(inspect.unwrap(getattr(run, "__func__", run)), "__annotations__", {}) or {})
    params = []
    if sig is not None:
        for p in sig.parameters.values():
            ann = hints.get(p.name, inspect.Parameter.empty)
            params.append({
                "name": p.name,
                "kind": p.kind.name,
                "hasDefault": p.default is not inspect.Parameter.empty,
                "type": describe(ann, named),
                "annotation": None if ann is inspect.Parameter.empty else type_text(ann),
            })
    ret = hints.get("return", inspect.Parameter.empty)
    return {
        "name": task.name,
        "module": getattr(task, "__module__", "") or "",
        "doc": inspect.getdoc(task) if task.__doc__ else None,
        "pydantic": pydantic,
        "params": params,
        "returns": describe(ret, named),
        "returnAnnotation": None if ret is inspect.Parameter.empty else type_text(ret),
    }

def type_text(tp):
    import re
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not isinstance(tp, types.GenericAlias):
        return tp.__qualname__
    text = re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", repr(tp))
    return text.replace("NoneType", "None")

def qualified(cls):
    return "%s.%s" % (cls.__module__, cls.__qualname__)

JSON_SCALARS = (str, int, float, bool, type(None))

def describe(tp, named):
    if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
        return {"k": "unknown"}
    if tp is None or tp is type(None):
        return {"k": "null"}
    if tp is bool:
        return {"k": "boolean"}
    if tp in (int, float):
        return {"k": "number"}
    if tp is str:
        return {"k": "string"}
    if tp in (bytes, bytearray):
        return {"k": "bytes"}
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:
        return describe(supertype, named)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return describe(args[0], named)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        return {"k": "union", "of": [describe(a, named) for a in args]}
    if origin is typing.Literal:
        if all(isinstance(v, JSON_SCALARS) for v in args):
            return {"k": "literal", "values": list(args)}
        return {"k": "unknown", "py": type_text(tp)}
    import collections.abc as abc
    if origin in (list, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet, abc.Iterable, abc.Collection):
        return {"k": "array", "of": describe(args[0], named) if args else {"k": "unknown"}}
    if tp in (list, set, frozenset):
        return {"k": "array", "of": {"k": "unknown"}}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"k": "array", "of": describe(args[0], named)}
        if args == ((),):
            return {"k": "tuple", "items": []}
        return {"k": "tuple", "items": [describe(a, named) for a in args]}
    if tp is tuple:
        return {"k": "array", "of": {"k": "unknown"}}
    if origin in (dict, abc.Mapping, abc.MutableMapping):
        return {"k": "record", "of": describe(args[1], named) if len(args) == 2 else {"k": "unknown"}}
    if tp is dict:
        return {"k": "record", "of": {"k": "unknown"}}
    if isinstance(tp, type):
        return describe_class(tp, named)
    return {"k": "unknown", "py": type_text(tp)}

def describe_class(cls, named):
    name = qualified(cls)
    if name in named:
        return {"k": "ref", "name": name}
    doc = inspect.getdoc(cls) if cls.__doc__ else None
    if issubclass(cls, enum.Enum):
        values = [m.value for m in cls]
        if all(isinstance(v, JSON_SCALARS) for v in values):
            named[name] = {"kind": "enum", "doc": doc, "values": values}
            return {"k": "ref", "name": name}
        return {"k": "unknown", "py": name}
    if typing.is_typeddict(cls):
        named[name] = entry = {"kind": "typeddict", "doc": doc, "fields": []}
        hints = typing.get_type_hints(cls)
        required = getattr(cls, "__required_keys__", frozenset(hints))
        entry["fields"] = [{"name": k, "required": k in required, "type": describe(v, named)} for k, v in hints.items()]
        return {"k": "ref", "name": name}
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(cls, "model_validate"):
        named[name] = entry = {"kind": "pydantic", "doc": doc, "fields": []}
        entry["fields"] = [
            {"name": f.alias or k, "required": f.is_required(), "type": describe(f.annotation, named)}
            for k, f in model_fields.items()
        ]
        return {"k": "ref", "name": name}
    if dataclasses.is_dataclass(cls):
        named[name] = entry = {"kind": "dataclass", "doc": None, "fields": []}
        hints = typing.get_type_hints(cls)
        entry["fields"] = [
            {
                "name": f.name,
                "required": f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
                "type": describe(hints.get(f.name, f.type), named),
            }
            for f in dataclasses.fields(cls)
        ]
        return {"k": "ref", "name": name}
    return {"k": "unknown", "py": name}

main()
`;

export interface IntrospectOptions {
  python: string;
  appSpec: string;
  cwd: string;
  includeBuiltins: boolean;
  env?: NodeJS.ProcessEnv;
}

const MARKER = "CELERIAC-STUBS ";

/** Runs {@link INTROSPECT_PY} with the app's interpreter; a CliError carries Python's last error line. */
export function introspectApp(options: IntrospectOptions): Promise<PyReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      options.python,
      ["-c", INTROSPECT_PY, options.appSpec, options.includeBuiltins ? "1" : "0"],
      {
        cwd: options.cwd,
        env: { ...(options.env ?? process.env), PYTHONDONTWRITEBYTECODE: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", (err) => {
      reject(
        new CliError(
          `cannot run the Python interpreter ${JSON.stringify(options.python)} (${err.message}); pass --python PATH (the interpreter of the Python app's environment)`,
          EX_FAILURE,
        ),
      );
    });
    child.on("close", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith(MARKER));
      if (code !== 0 || line === undefined) {
        const lines = stderr.trim().split("\n");
        const last = lines[lines.length - 1] ?? "";
        reject(
          new CliError(
            `loading the Python app ${JSON.stringify(options.appSpec)} with ${options.python} failed (exit ${code}): ${last || "no output"}`,
            EX_FAILURE,
          ),
        );
        return;
      }
      resolve(JSON.parse(line.slice(MARKER.length)) as PyReport);
    });
  });
}
