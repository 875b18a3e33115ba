#!/usr/bin/env node
// The `celeriac` command. From a checkout (src/ present) it runs the TypeScript sources through
// tsx, so no build step is needed; from an installed package it runs the compiled dist/. tsx is an
// optional peer dependency: when the user has it, it is registered so that `--app ./tasks.ts`
// loads without a build step; without it, a .ts app gets a message saying to install it.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "cli", "main.ts");
const compiled = join(root, "dist", "cli", "main.js");

let tsxLoaded = false;
try {
  const { register } = await import("tsx/esm/api");
  register();
  tsxLoaded = true;
} catch {
  // tsx absent: only .js app modules and the compiled CLI can load.
}

const entry = tsxLoaded && existsSync(source) ? source : compiled;
if (!existsSync(entry)) {
  process.stderr.write(`celeriac: cannot find ${entry} (run \`npm run build\`)\n`);
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
// Exit explicitly: a broker client that is still closing must not keep a finished command alive.
process.exit(await main(process.argv.slice(2), { tsx: tsxLoaded }));
