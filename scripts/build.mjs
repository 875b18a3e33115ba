#!/usr/bin/env node
// Builds the package (`npm run build`, and `prepack` before every `npm pack`/`npm publish`):
//
//   dist/        ESM, one .js + .d.ts per source file (tsc -p tsconfig.build.json); the CLI lives here.
//   dist/cjs/    CommonJS for `require("celeriac")` on every supported Node, including Node 20 before
//                20.19 where require(esm) does not exist: the same files transpiled one by one with
//                esbuild (no bundling, so relative paths such as the thread pool's thread-entry.js
//                keep working), plus a copy of the .d.ts files that TypeScript reads as CommonJS
//                declarations because dist/cjs/package.json says "type": "commonjs".
//
// No source maps are shipped: the sources are not in the package, and the emitted JavaScript is
// tsc's/esbuild's unminified ES2022, line for line close to the TypeScript.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");
const cjs = join(dist, "cjs");

/** Every file under `dir`, recursively. */
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

// The CLI is ESM only (bin/celeriac.js imports dist/cli/main.js); the library is both.
const inCjsBuild = (path) => !relative(src, path).startsWith(`cli${"/"}`);

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit",
});

await build({
  entryPoints: walk(src).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && inCjsBuild(f)),
  outdir: cjs,
  outbase: src,
  format: "cjs",
  platform: "node",
  target: "node20",
  bundle: false,
  sourcemap: false,
  logLevel: "warning",
  // import.meta.url is what the ESM files resolve siblings and packages against (the thread
  // pool's entry file, optional-deps.ts's createRequire); in CommonJS it is this file's URL.
  define: { "import.meta.url": "__celeriacModuleUrl" },
  // "use strict" first: the banner comes before esbuild's own directive, which would then not count.
  banner: {
    js: '"use strict";\nconst __celeriacModuleUrl = require("node:url").pathToFileURL(__filename).href;',
  },
});
writeFileSync(join(cjs, "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);

for (const file of walk(dist)) {
  if (!file.endsWith(".d.ts") || file.startsWith(cjs)) continue;
  const rel = relative(dist, file);
  if (!inCjsBuild(join(src, rel))) continue;
  mkdirSync(dirname(join(cjs, rel)), { recursive: true });
  copyFileSync(file, join(cjs, rel));
}
