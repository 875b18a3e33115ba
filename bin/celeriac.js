#!/usr/bin/env node
// The `celeriac` command. From a checkout (src/ present) it runs the TypeScript sources through
// tsx, so no build step is needed; from an installed package it runs the compiled dist/. tsx is an
// optional peer dependency: when the user has it, it is registered the first time a `.ts` app module
// is loaded (`--app ./tasks.ts`), not before: its loader runs in a thread of its own and costs about
// 33 MB of RSS that a worker of a compiled `.js` app would carry for nothing. Without tsx, a .ts app
// gets a message saying to install it.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "cli", "main.ts");
const compiled = join(root, "dist", "cli", "main.js");

/** Registers tsx; false when it is not installed. */
async function registerTsx() {
  try {
    const { register } = await import("tsx/esm/api");
    register();
    return true;
  } catch {
    return false;
  }
}

const fromSource = existsSync(source) && (await registerTsx());
const entry = fromSource ? source : compiled;
if (!existsSync(entry)) {
  process.stderr.write(`celeriac: cannot find ${entry} (run \`npm run build\`)\n`);
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
// Exit explicitly: a broker client that is still closing must not keep a finished command alive.
process.exit(await main(process.argv.slice(2), { tsx: fromSource ? true : registerTsx }));
