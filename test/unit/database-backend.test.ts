/**
 * The pure parts of the database result backends: which backend a URL names (and the errors for
 * the ones that are not supported, password masked), Python's json.dumps spelling of the
 * ChordCounter's sub_tasks, and the GroupResult join over stored metas.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Celery } from "../../src/app.js";
import { joinResults, tupleTaskIds } from "../../src/backends/chord-results.js";
import { pythonJsonDumps } from "../../src/backends/database/content.js";
import { databaseTarget, isDatabaseBackend, maskUrl } from "../../src/backends/database/url.js";
import { ConfigError } from "../../src/errors.js";
import { parseResultTuple } from "../../src/protocol/result-meta.js";

describe("database backend URLs", () => {
  it("maps Celery's db+ URLs and django-db to a PostgreSQL connection string", () => {
    expect(databaseTarget("db+postgresql://u:p@h:5/db", null)).toEqual({
      kind: "sqlalchemy",
      connectionString: "postgresql://u:p@h:5/db",
      masked: "postgresql://u:***@h:5/db",
    });
    expect(databaseTarget("db+postgresql+psycopg2://h/db", null).connectionString).toBe("postgresql://h/db");
    expect(databaseTarget("db+postgresql://ignored/x", "postgresql+psycopg://h/other").connectionString).toBe(
      "postgresql://h/other",
    );
    expect(databaseTarget("django-db", "postgres://h/app")).toMatchObject({ kind: "django-db" });
    expect(isDatabaseBackend("django-db")).toBe(true);
    expect(isDatabaseBackend("db+sqlite:///x")).toBe(true);
    expect(isDatabaseBackend("redis://h")).toBe(false);
  });

  it("refuses other databases and missing settings with errors naming the option, password masked", () => {
    const fail = (backend: string, url: string | null) => {
      try {
        databaseTarget(backend, url);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return err as ConfigError;
      }
      throw new Error("no error");
    };
    expect(fail("db+mysql://u:pw@h/db", null).message).toMatch(/u:\*\*\*@h.*only PostgreSQL/);
    expect(fail("db+sqlite:///results.db", null).option).toBe("backend");
    expect(fail("django-db", null).option).toBe("databaseUrl");
    expect(fail("django-db", "postgresql://u:pw@h").message).toMatch(/names no database/);
    expect(fail("django-db", "postgresql://u:pw@h").message).not.toContain("pw");
    expect(() => new Celery({ backend: "db+oracle://scott:tiger@h/x" })).toThrow(/only PostgreSQL/);
    expect(() => new Celery({ backend: "django-db", databaseUrl: "mysql://a:b@h/x" })).toThrow(ConfigError);
  });

  it("never lets a password through maskUrl", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z]{1,8}$/),
        fc.stringMatching(/^[A-Za-z0-9!$%^&*()_+=-]{1,20}$/),
        (user, pw) => {
          const masked = maskUrl(`postgresql://${user}:${pw}@host:5432/db`);
          expect(masked).toBe(`postgresql://${user}:***@host:5432/db`);
        },
      ),
    );
  });
});

describe("json.dumps spelling and the chord join", () => {
  it("writes sub_tasks as Python's json.dumps does", () => {
    expect(
      pythonJsonDumps([
        [["a", null], null],
        [["b", null], null],
      ]),
    ).toBe('[[["a", null], null], [["b", null], null]]');
    expect(pythonJsonDumps({ k: "é", n: 1.5 })).toBe('{"k": "\\u00e9", "n": 1.5}');
  });

  it("joins in header order, waits for unready members, and reports the first failure", () => {
    const nodes = [
      [["a", null], null],
      [["g", null], [[["b", null], null]]],
    ].map((t) => parseResultTuple(t));
    expect(tupleTaskIds(nodes)).toEqual(["a", "b"]);
    const meta = (task_id: string, status: string, result: unknown) => ({
      task_id,
      status,
      result,
      traceback: null,
      children: null,
      date_done: null,
    });
    expect(joinResults(nodes, new Map([["a", meta("a", "SUCCESS", 1)]]))).toBeNull();
    expect(
      joinResults(
        nodes,
        new Map([
          ["a", meta("a", "SUCCESS", 1)],
          ["b", meta("b", "STARTED", null)],
        ]),
      ),
    ).toBeNull();
    expect(
      joinResults(
        nodes,
        new Map([
          ["a", meta("a", "SUCCESS", 1)],
          ["b", meta("b", "SUCCESS", 2)],
        ]),
      ),
    ).toEqual({ results: [1, [2]] });
    const failed = joinResults(
      nodes,
      new Map([
        ["a", meta("a", "SUCCESS", 1)],
        ["b", meta("b", "FAILURE", { exc_type: "KeyError", exc_message: ["k"], exc_module: "builtins" })],
      ]),
    );
    expect(failed).toEqual({
      error: {
        exc_type: "ChordError",
        exc_message: ["KeyError('k')"],
        exc_module: "celery.exceptions",
      },
    });
  });
});
