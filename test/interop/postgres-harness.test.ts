/**
 * The shared PostgreSQL of the run (test/support/servers/postgres.ts via the service provider):
 * each allocation is a fresh, empty database of its own, and Python's psycopg (the Django venv)
 * reaches the same server the TS `pg` client does.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { runPython } from "../support/celery.js";
import { allocatePostgresDb } from "../support/services.js";

async function tableCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
    );
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

describe("PostgreSQL test service", () => {
  it("hands out separate empty databases that both TS and Python reach", async () => {
    const a = await allocatePostgresDb();
    const b = await allocatePostgresDb();
    expect(a.database).not.toBe(b.database);
    const client = new pg.Client({ connectionString: a.url });
    await client.connect();
    await client.query("CREATE TABLE marker (id int)");
    await client.end();
    expect(await tableCount(a.url)).toBe(1);
    expect(await tableCount(b.url)).toBe(0);
    const run = await runPython(
      `import psycopg, sys\nwith psycopg.connect(sys.argv[1]) as c:\n    print(c.execute("SELECT current_database()").fetchone()[0])`,
      { celeryVersion: "django", args: [a.url] },
    );
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(a.database);
  });
});
