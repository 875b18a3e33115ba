/**
 * scripts/check-imports.mjs, the shape check `npm run lint` runs, on small source trees written
 * here: each rule fails on a tree that breaks it and passes on the same tree without the break,
 * so the lint step cannot go green by checking nothing.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = path.resolve(import.meta.dirname, "../../scripts/check-imports.mjs");
const run = promisify(execFile);
const trees: string[] = [];

afterAll(async () => {
  for (const dir of trees) await rm(dir, { recursive: true, force: true });
});

/** Writes `files` (path under src/ -> source) to a fresh tree and runs the checker on it. */
async function check(files: Record<string, string>): Promise<{ code: number; output: string }> {
  const src = await mkdtemp(path.join(tmpdir(), "check-imports-"));
  trees.push(src);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(src, name)), { recursive: true });
    await writeFile(path.join(src, name), text);
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, "--src", src]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

/** The io layer of a small tree: interfaces, a factory, and concrete files behind them. */
const IO = {
  "backends/backend.ts": "export interface ResultBackend { get(id: string): Promise<unknown> }\n",
  "backends/django-beat-tables.ts": "export interface DjangoBeatTables { close(): Promise<void> }\n",
  "backends/database/pg.ts": "export class PgDatabase {}\n",
  "backends/database/django-beat-pg.ts":
    'import type { DjangoBeatTables } from "../django-beat-tables.js";\nimport { PgDatabase } from "./pg.js";\nexport class PgDjangoBeatTables implements DjangoBeatTables { db = new PgDatabase(); async close() {} }\n',
  "backends/beat-store-factory.ts":
    'import { PgDjangoBeatTables } from "./database/django-beat-pg.js";\nexport const createDjangoBeatTables = () => new PgDjangoBeatTables();\n',
  "backends/redis.ts": "export class RedisBackend {}\n",
  "transports/transport.ts": "export interface Transport { close(): Promise<void> }\n",
  "transports/redis/transport.ts":
    'import type { Transport } from "../transport.js";\nexport class RedisTransport implements Transport { async close() {} }\n',
};

describe.concurrent("check-imports: concrete io above io", () => {
  it("passes when beat/ reaches the tables through their interface and the factory", async () => {
    const result = await check({
      ...IO,
      "beat/django-store.ts":
        'import { createDjangoBeatTables } from "../backends/beat-store-factory.js";\nimport type { DjangoBeatTables } from "../backends/django-beat-tables.js";\nexport const tables: DjangoBeatTables = createDjangoBeatTables();\n',
    });
    expect(result.output).toContain("imports point down");
    expect(result.code).toBe(0);
  });

  it("fails on each concrete io file and client library imported above io, naming the edge", async () => {
    const violations = [
      ["beat/django-store.ts", "../backends/database/pg.js"], // under backends/database/
      ["beat/django-tables.ts", "../backends/database/django-beat-pg.js"], // a concrete store
      ["worker/chord.ts", "../backends/redis.js"], // a concrete result backend
      ["control/pidbox.ts", "../transports/redis/transport.js"], // a broker's folder
      ["canvas/apply.ts", "../backends/redis.js"], // from canvas, the lowest layer above io
    ] as const;
    const tree: Record<string, string> = { ...IO };
    for (const [file, spec] of violations) {
      tree[file] = `import type * as concrete from "${spec}";\nexport type C = typeof concrete;\n`;
    }
    tree["beat/redbeat.ts"] = 'import type { Redis } from "ioredis";\nexport type R = Redis;\n';
    const result = await check(tree);
    expect(result.code).toBe(1);
    for (const [file, spec] of violations) {
      const target = path.posix.join(path.posix.dirname(file), spec).replace(/\.js$/, ".ts");
      expect(result.output).toContain(`concrete io above io: ${file} (`);
      expect(result.output).toMatch(new RegExp(`${file} \\(\\w+\\) -> ${target} \\(only interfaces`));
    }
    expect(result.output).toContain("client library above io: beat/redbeat.ts (behaviour) imports ioredis");
    expect(result.output).toContain("check-imports: 6 problem(s)");
  });
});

describe.concurrent("check-imports: packages loaded when used", () => {
  it("fails on a value import of one, even with inline `type` specifiers; passes on `import type`", async () => {
    const asValue = {
      ...IO,
      "backends/redis.ts":
        'import { Command, type Redis } from "ioredis";\nexport const make = (r: Redis) => new Command("GET", [], {});\n',
      "transports/redis/transport.ts":
        'import type { Transport } from "../transport.js";\nimport { type Redis } from "ioredis";\nexport class RedisTransport implements Transport { r?: Redis; async close() {} }\n',
      "backends/database/pg.ts": 'export { Client } from "pg";\n',
    };
    const failed = await check(asValue);
    expect(failed.code).toBe(1);
    for (const [file, pkg] of [
      ["backends/redis.ts", "ioredis"],
      ["transports/redis/transport.ts", "ioredis"],
      ["backends/database/pg.ts", "pg"],
    ]) {
      expect(failed.output).toContain(`${file}: imports ${pkg} as a value at load`);
    }
    const asType = await check({
      ...IO,
      "backends/redis.ts": 'import type { Redis } from "ioredis";\nexport const make = (r: Redis) => r;\n',
      "backends/database/pg.ts": 'export type { Client } from "pg";\n',
    });
    expect(asType.output).toContain("imports point down");
    expect(asType.code).toBe(0);
  });
});

describe.concurrent("check-imports: direction and cycles", () => {
  it("fails on an upward import", async () => {
    const result = await check({
      ...IO,
      "worker/run.ts": "export const run = 1;\n",
      "canvas/apply.ts": 'import { run } from "../worker/run.js";\nexport const apply = run;\n',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain("upward import: canvas/apply.ts (canvas) -> worker/run.ts (behaviour)");
  });

  it("fails on a file cycle inside one folder", async () => {
    const result = await check({
      "client/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
      "client/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain("file cycle: client/a.ts, client/b.ts");
  });

  it("fails on a folder cycle between siblings of one layer", async () => {
    const result = await check({
      "control/a.ts": 'import { e } from "../events/e.js";\nexport const a = e;\n',
      "control/b.ts": "export const b = 1;\n",
      "events/e.ts": "export const e = 1;\n",
      "events/f.ts": 'import { b } from "../control/b.js";\nexport const f = b;\n',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain("folder cycle: control, events");
  });

  it("passes on src/ itself", async () => {
    const { stdout } = await run(process.execPath, [SCRIPT]);
    expect(stdout).toMatch(/check-imports: \d+ files, imports point down/);
  });
});
