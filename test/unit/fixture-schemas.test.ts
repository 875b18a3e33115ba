// Every fixture captured from real Celery (protocol-fixtures/<minor>/) must pass the JSON Schemas
// in protocol-fixtures/schemas, and the TS normalizer must reproduce the Python capture's
// normalization of it (python-interop/capture/common.py Volatile).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { CELERY_MINORS } from "../../src/compat.js";
import {
  FIXTURE_KINDS,
  FIXTURES_DIR,
  type FixtureRecord,
  fixtureMinors,
  getAtPointer,
  isErrorOutput,
  type JsonObject,
  loadFixtures,
  loadFormats,
  loadManifest,
  matchesFormat,
  normalize,
  normalizeRawJson,
  rulesUnder,
} from "../support/fixtures.js";

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const dir = join(FIXTURES_DIR, "schemas");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".schema.json"))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), "utf8")));
  }
  return ajv;
}

const ajv = makeAjv();

function validate(schemaId: string, value: unknown): string {
  const check = ajv.getSchema(schemaId);
  if (!check) throw new Error(`schema ${schemaId} not loaded`);
  return check(value) ? "" : ajv.errorsText(check.errors, { separator: "\n" });
}

// Plausible real values of each format, shaped like what Celery wrote on the capture machine.
const SAMPLES: Record<string, string | number> = {
  "isoformat-aware": "2026-11-24T08:08:27.177781+00:00",
  "isoformat-naive": "2026-11-23T23:34:53.663430",
  "anon-nodename": "gen15108@vm",
  uuid: "39abd73e-278e-43ff-a517-31541c7391d8",
  "int-ms-string": "59999",
  "python-traceback":
    'Traceback (most recent call last):\n  File "/x/trace.py", line 1, in f\nValueError: x\n',
  pid: 4242,
};

/** Puts a sample real value back at every normalized place (the inverse of normalize). */
function denormalize(output: unknown, rules: Readonly<Record<string, string>>): unknown {
  const copy = structuredClone(output);
  for (const [pointer, format] of Object.entries(rules)) {
    const tokens = pointer.slice(1).split("/");
    const last = tokens.pop() as string;
    const parent = getAtPointer(copy, tokens.length ? `/${tokens.join("/")}` : "") as Record<string, unknown>;
    parent[last] = SAMPLES[format];
  }
  return copy;
}

function denormalizeRaw(raw: string, rules: Readonly<Record<string, string>>): string {
  let text = raw;
  for (const format of new Set(Object.values(rules))) {
    text = text.replaceAll(JSON.stringify(`<${format}>`), JSON.stringify(SAMPLES[format]));
  }
  return text;
}

/** The raw JSON texts of one fixture and the pointer of their parsed twin. */
function rawTwins(fixture: FixtureRecord): { raw: string; twin: string; parsed: unknown }[] {
  const out = fixture.output as unknown as Record<string, unknown>;
  if (fixture.kind === "task-message" && !isErrorOutput(out)) {
    const redis = out.redis as { raw: string; envelope: unknown };
    return [{ raw: redis.raw, twin: "/redis/envelope", parsed: redis.envelope }];
  }
  if (fixture.kind === "result-meta" || fixture.kind === "group-meta") {
    return [{ raw: out.raw as string, twin: "/meta", parsed: out.meta }];
  }
  return [];
}

describe("protocol-fixtures corpus", () => {
  it("has a corpus for every supported Celery minor", () => {
    expect(fixtureMinors()).toEqual([...CELERY_MINORS]);
  });

  it("every format used by a fixture is in the catalogue, and samples match their format", () => {
    for (const [name, sample] of Object.entries(SAMPLES)) expect(matchesFormat(name, sample)).toBe(true);
    expect(Object.keys(loadFormats()).sort()).toEqual(Object.keys(SAMPLES).sort());
  });
});

for (const minor of fixtureMinors()) {
  describe(`protocol-fixtures/${minor}`, () => {
    const manifest = loadManifest(minor);
    const fixtures = loadFixtures(minor);

    it("manifest is valid and lists exactly the files on disk", () => {
      expect(validate("celeriac:manifest", manifest)).toBe("");
      expect(manifest.minor).toBe(minor);
      expect(manifest.celery.startsWith(`${minor}.`)).toBe(true);
      const onDisk = FIXTURE_KINDS.flatMap((kind) =>
        readdirSync(join(FIXTURES_DIR, minor, kind)).map((f) => `${kind}/${f}`),
      ).sort();
      expect(onDisk).toEqual([...manifest.files]);
      expect(manifest.count).toBe(manifest.files.length);
      for (const kind of FIXTURE_KINDS) {
        expect(manifest.counts[kind]).toBe(loadFixtures(minor, kind).length);
      }
    });

    it("every fixture passes the schemas and names its own versions", () => {
      const failures: string[] = [];
      for (const fixture of fixtures) {
        const errors = validate("celeriac:fixture", stripLoaderFields(fixture));
        if (errors) failures.push(`${fixture.file}:\n${errors}`);
        if (fixture.celery !== manifest.celery || fixture.kombu !== manifest.kombu) {
          failures.push(
            `${fixture.file}: versions ${fixture.celery}/${fixture.kombu} differ from the manifest`,
          );
        }
      }
      expect(failures).toEqual([]);
    });

    it("placeholders sit exactly where `formats` says", () => {
      for (const fixture of fixtures) {
        for (const [pointer, format] of Object.entries(fixture.formats)) {
          expect(getAtPointer(fixture.output, pointer), `${fixture.file} ${pointer}`).toBe(`<${format}>`);
        }
      }
    });

    it("raw texts parse to their recorded twin, key order included", () => {
      for (const fixture of fixtures) {
        for (const { raw, parsed } of rawTwins(fixture)) {
          expect(JSON.stringify(JSON.parse(raw)), fixture.file).toBe(JSON.stringify(parsed));
        }
      }
    });

    it("normalize() and normalizeRawJson() reproduce the capture's normalization", () => {
      for (const fixture of fixtures) {
        const real = denormalize(fixture.output, fixture.formats);
        expect(normalize(real, fixture.formats), fixture.file).toEqual(fixture.output);
        expect(JSON.stringify(normalize(real, fixture.formats))).toBe(JSON.stringify(fixture.output));
        for (const { raw, twin } of rawTwins(fixture)) {
          const rules = rulesUnder(fixture.formats, twin);
          expect(normalizeRawJson(denormalizeRaw(raw, rules), rules), fixture.file).toBe(raw);
        }
      }
    });

    it("message, Redis envelope and AMQP view carry the same headers and body bytes", () => {
      for (const fixture of loadFixtures(minor, "task-message")) {
        const output = fixture.output;
        if (isErrorOutput(output)) continue;
        const { message, redis, amqp } = output;
        const headersText = JSON.stringify(message.headers);
        expect(JSON.stringify(redis.envelope.headers), fixture.file).toBe(headersText);
        expect(JSON.stringify((amqp.properties as JsonObject).application_headers), fixture.file).toBe(
          headersText,
        );
        expect(redis.envelope.body, fixture.file).toBe(message.body.base64);
        expect(amqp.body_base64, fixture.file).toBe(message.body.base64);
        if (message.body.content_type === "application/json" && message.body.compression === null) {
          expect(JSON.parse(message.body.text ?? "null"), fixture.file).toEqual(message.body.decoded);
        }
      }
    });
  });
}

describe("normalize()", () => {
  it("refuses a value that does not have the announced format", () => {
    expect(() => normalize({ eta: "2026-11-24T08:08:27.177Z" }, { "/eta": "isoformat-aware" })).toThrow(
      /does not match format isoformat-aware/,
    );
    expect(() => normalize({ eta: null }, { "/missing": "isoformat-aware" })).toThrow(/nothing at \/missing/);
  });

  it("keeps key order and leaves the input untouched", () => {
    const input = { a: 1, eta: "2026-11-24T08:08:27+00:00", z: [gen()] };
    const out = normalize(input, { "/eta": "isoformat-aware", "/z/0": "anon-nodename" });
    expect(Object.keys(out)).toEqual(["a", "eta", "z"]);
    expect(out).toEqual({ a: 1, eta: "<isoformat-aware>", z: ["<anon-nodename>"] });
    expect(input.eta).toBe("2026-11-24T08:08:27+00:00");
  });
});

function gen(): string {
  return `gen${process.pid}@host`;
}

function stripLoaderFields(fixture: FixtureRecord): Omit<FixtureRecord, "minor" | "file"> {
  const { minor: _minor, file: _file, ...rest } = fixture;
  return rest;
}
