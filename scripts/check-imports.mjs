#!/usr/bin/env node
/**
 * The shape check `npm run lint` runs: imports in src/ point down only.
 *
 * Layers, top to bottom (a file may import its own layer or any layer below it):
 *
 *   cli         src/cli/**                      flags in, public API calls, printing out
 *   app         src/app.ts, index.ts, internal.ts, metrics.ts   the Celery facade and entry points
 *   behaviour   src/client/ worker/ beat/ events/ control/      what Celery does, in TS
 *   canvas      src/canvas/                     signatures, chain, group, chord: data + what runs next
 *   io          src/backends/ transports/       one folder per broker/backend (ioredis, amqplib)
 *   settings    src/config.ts, config-values.ts, config-defaults.ts, config-checks.ts,
 *               config-connection-checks.ts, option-checks.ts, logging.ts, tracing.ts   settings
 *               types, defaults and checks, the logger, OpenTelemetry spans
 *   pure        src/protocol/ serialization/    build/parse messages, codecs; no I/O
 *   base        src/errors.ts, compat.ts, optional-deps.ts, redact.ts   the error tree, Celery minor
 *               versions, the loader of optional npm packages, credential masking: import nothing
 *               but each other
 *
 * A root file not named above is a failure until it is placed here. Besides the layer order, the
 * check fails on any cycle between files and any cycle between folders (a folder is a directory
 * under src/; root files are grouped by layer), so siblings in one layer cannot lean on each other
 * both ways. A subfolder may use its parent folder (transports/redis/ implements the interface in
 * transports/transport.ts; cli/commands/ uses cli/args.ts): that edge is left out of the folder
 * graph, and a loop through it is still a file cycle. Type-only imports count: a type names a
 * dependency as much as a value does.
 *
 * Above the io layer nothing names a concrete broker, backend, store or client library: no import
 * of a client library (ioredis, amqplib, pg), and of backends/ and transports/ only the files in
 * IO_PUBLIC (the interfaces, the factories that pick a concrete one, and helpers that name no
 * broker or backend). A file in a broker's folder (transports/redis/, ...), a concrete result
 * backend (backends/redis*.ts, backends/rpc*.ts, backends/database/) or a concrete store is out
 * of reach. Exceptions are listed in CONCRETE_ALLOWED with their reason.
 *
 *   node scripts/check-imports.mjs              check; exit 1 with the offending edges
 *   node scripts/check-imports.mjs --graph      also print the folder graph (who imports whom)
 *   node scripts/check-imports.mjs --src DIR    check another source tree (the checker's own tests)
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const srcFlag = process.argv.indexOf("--src");
const SRC = srcFlag >= 0 ? path.resolve(process.argv[srcFlag + 1] ?? "") : path.join(ROOT, "src");

const LAYERS = ["base", "pure", "settings", "io", "canvas", "behaviour", "app", "cli"];
const FOLDER_LAYER = {
  cli: "cli",
  client: "behaviour",
  worker: "behaviour",
  beat: "behaviour",
  events: "behaviour",
  control: "behaviour",
  canvas: "canvas",
  backends: "io",
  transports: "io",
  protocol: "pure",
  serialization: "pure",
};
const ROOT_FILE_LAYER = {
  "app.ts": "app",
  "index.ts": "app",
  "internal.ts": "app",
  "metrics.ts": "app",
  "config.ts": "settings",
  "config-checks.ts": "settings",
  "config-connection-checks.ts": "settings",
  "config-defaults.ts": "settings",
  "config-values.ts": "settings",
  "option-checks.ts": "settings",
  "logging.ts": "settings",
  "tracing.ts": "settings",
  "errors.ts": "base",
  "compat.ts": "base",
  "optional-deps.ts": "base",
  "redact.ts": "base",
};

const LAYERS_ABOVE_IO = new Set(["canvas", "behaviour", "app", "cli"]);
/** Client libraries only transports/ and backends/ may import. */
const CLIENT_LIBRARIES = new Set(["ioredis", "amqplib", "pg"]);
/**
 * Packages loaded when a feature first uses them (src/optional-deps.ts loadDependency, or a dynamic
 * import()), never at import: importing the package must not load them (test/package's check).
 * Anywhere in src/ they may be imported at the top of a file only as `import type`; with
 * verbatimModuleSyntax even `import { type X }` stays as a bare import that loads the package.
 */
const LOADED_WHEN_USED = new Set([
  "ioredis",
  "amqplib",
  "pg",
  "yaml",
  "@msgpack/msgpack",
  "compressjs",
  "@napi-rs/lzma",
  "prom-client",
  "tsx",
  "@opentelemetry/api",
]);
/** The io files the layers above may import, and why each names no concrete broker, backend or store. */
const IO_PUBLIC = {
  "backends/backend.ts": "the ResultBackend interface",
  "backends/factory.ts": "picks the result backend for a URL",
  "backends/chord-results.ts": "a chord's outcome from stored results, whatever stores them",
  "backends/redbeat-store.ts": "the RedBeatStore interface",
  "backends/django-beat-tables.ts": "the DjangoBeatTables interface",
  "backends/beat-store-factory.ts": "picks the concrete beat stores",
  "transports/transport.ts": "the Transport interface",
  "transports/factory.ts": "picks the transport for a URL",
  "transports/retry-policy.ts": "reconnect backoff and deadlines, for any broker",
};
/** File above io -> why it may still import a concrete io file. */
const CONCRETE_ALLOWED = {
  // The `celeriac/internal` entry point exists to hand the Redis pieces to tools and tests.
  "internal.ts": "the celeriac/internal entry point re-exports the Redis transport and backend",
};

function listSources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listSources(full));
    else if (name.endsWith(".ts")) out.push(full);
  }
  return out;
}

/** Resolves a relative ESM specifier ("./x.js", "../dir/index.js") to a .ts file under src/. */
function resolve(fromFile, spec) {
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [base.replace(/\.js$/, ".ts"), `${base}.ts`, path.join(base, "index.ts"), base];
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {}
  }
  return undefined;
}

const rel = (file) => path.relative(SRC, file).split(path.sep).join("/");

/** The unit a folder cycle is measured on: the file's directory, or its layer for root files. */
function folderOf(relFile) {
  const dir = path.posix.dirname(relFile);
  return dir === "." ? `(${ROOT_FILE_LAYER[relFile] ?? "unplaced"})` : dir;
}

function layerOf(relFile) {
  const top = relFile.split("/")[0];
  if (!relFile.includes("/")) return ROOT_FILE_LAYER[relFile];
  return FOLDER_LAYER[top];
}

const packageOf = (spec) =>
  spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];

/** Top-level `import`/`export ... from` of a LOADED_WHEN_USED package that is not `import type`/`export type`. */
function valueImportsOfLazyPackages(file, text) {
  const out = [];
  for (const node of ts.createSourceFile(file, text, ts.ScriptTarget.Latest).statements) {
    const isImport = ts.isImportDeclaration(node);
    if (!isImport && !ts.isExportDeclaration(node)) continue;
    const spec = node.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !LOADED_WHEN_USED.has(packageOf(spec.text))) continue;
    const typeOnly = isImport ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
    if (!typeOnly) out.push(spec.text);
  }
  return out;
}

const files = listSources(SRC).filter((f) => !f.endsWith(".d.ts"));
const edges = new Map(); // relFile -> Set(relFile)
const externalImports = []; // [relFile, package] for client libraries
const problems = [];
for (const file of files) {
  const from = rel(file);
  const text = readFileSync(file, "utf8");
  const info = ts.preProcessFile(text, true, true);
  for (const pkg of valueImportsOfLazyPackages(file, text)) {
    problems.push(
      `${from}: imports ${pkg} as a value at load; use \`import type\` and loadDependency (src/optional-deps.ts)`,
    );
  }
  const targets = new Set();
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith(".")) {
      const pkg = packageOf(fileName);
      if (CLIENT_LIBRARIES.has(pkg)) externalImports.push([from, pkg]);
      continue;
    }
    const target = resolve(file, fileName);
    if (!target) {
      problems.push(`${from}: cannot resolve import "${fileName}"`);
      continue;
    }
    targets.add(rel(target));
  }
  edges.set(from, targets);
}

for (const from of edges.keys()) {
  if (layerOf(from) === undefined) {
    problems.push(`${from}: not placed in a layer; add it to scripts/check-imports.mjs`);
  }
}

// Upward imports.
for (const [from, targets] of edges) {
  const fromRank = LAYERS.indexOf(layerOf(from));
  for (const to of targets) {
    const toRank = LAYERS.indexOf(layerOf(to));
    if (fromRank >= 0 && toRank > fromRank) {
      problems.push(`upward import: ${from} (${layerOf(from)}) -> ${to} (${layerOf(to)})`);
    }
  }
}

// Concrete brokers, backends and client libraries above io.
for (const [from, pkg] of externalImports) {
  if (LAYERS_ABOVE_IO.has(layerOf(from))) {
    problems.push(`client library above io: ${from} (${layerOf(from)}) imports ${pkg}`);
  }
}
for (const [from, targets] of edges) {
  if (!LAYERS_ABOVE_IO.has(layerOf(from)) || from in CONCRETE_ALLOWED) continue;
  for (const to of targets) {
    if (layerOf(to) === "io" && !(to in IO_PUBLIC)) {
      problems.push(
        `concrete io above io: ${from} (${layerOf(from)}) -> ${to} (only interfaces and factories: ${Object.keys(IO_PUBLIC).join(", ")})`,
      );
    }
  }
}

/** Strongly connected components with more than one node (Tarjan), each sorted. */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? new Set()).has(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Edges inside a strongly connected component, so the report names what to cut. */
function edgesWithin(graph, comp, label = (a, b) => `${a} -> ${b}`) {
  const set = new Set(comp);
  const out = [];
  for (const a of comp) for (const b of graph.get(a) ?? []) if (set.has(b) && a !== b) out.push(label(a, b));
  return out;
}

for (const comp of cycles(edges)) {
  problems.push(`file cycle: ${comp.join(", ")}\n    ${edgesWithin(edges, comp).join("\n    ")}`);
}

const folderEdges = new Map(); // folder -> Map(folder -> [file edges])
for (const [from, targets] of edges) {
  const a = folderOf(from);
  if (!folderEdges.has(a)) folderEdges.set(a, new Map());
  for (const to of targets) {
    const b = folderOf(to);
    if (a === b || a.startsWith(`${b}/`)) continue; // same folder, or a subfolder using its parent
    const m = folderEdges.get(a);
    if (!m.has(b)) m.set(b, []);
    m.get(b).push(`${from} -> ${to}`);
  }
}
const folderGraph = new Map([...folderEdges].map(([a, m]) => [a, new Set(m.keys())]));
for (const comp of cycles(folderGraph)) {
  const detail = edgesWithin(
    folderGraph,
    comp,
    (a, b) => `${a} -> ${b}: ${folderEdges.get(a).get(b).join("; ")}`,
  );
  problems.push(`folder cycle: ${comp.join(", ")}\n    ${detail.join("\n    ")}`);
}

if (process.argv.includes("--graph")) {
  console.log("folder graph (folder -> folders it imports):");
  for (const a of [...folderGraph.keys()].sort()) {
    console.log(`  ${a} -> ${[...folderGraph.get(a)].sort().join(", ") || "(nothing)"}`);
  }
}

if (problems.length > 0) {
  console.error(`check-imports: ${problems.length} problem(s) in src/ (layers in scripts/check-imports.mjs)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`check-imports: ${edges.size} files, imports point down, no file or folder cycle`);
