/**
 * A real Flower 2 (its own pinned venv, python-interop/requirements/flower.txt) watching a
 * broker, for interop tests: started as a child of the test process, ready once `/healthcheck`
 * answers, with small helpers for its HTTP API.
 */
import { dirname, join } from "node:path";
import { INTEROP_APP_DIR } from "./celery.js";
import { freePort } from "./ports.js";
import { ChildHandle, waitUntil } from "./process.js";
import { celeryVenvPython } from "./services.js";

export interface FlowerAnswer {
  status: number;
  /** Parsed JSON, or the raw text (an HTML error page) kept for failure messages. */
  body: unknown;
}

export interface Flower {
  readonly url: string;
  readonly child: ChildHandle;
  get(path: string): Promise<FlowerAnswer>;
  /** Polls `path` until `probe` accepts the answer; bounded (`tries` × 100 ms), returns the last answer either way. */
  poll(path: string, probe: (body: unknown) => boolean, tries?: number): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startFlower(brokerUrl: string): Promise<Flower> {
  const python = await celeryVenvPython("flower");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Flower 2 refuses its HTTP API without auth unless FLOWER_UNAUTHENTICATED_API is set
  // (flower/api/__init__.py BaseApiHandler.prepare).
  const child = new ChildHandle(
    join(dirname(python), "celery"),
    ["-b", brokerUrl, "flower", `--port=${port}`, "--address=127.0.0.1", "--purge_offline_workers=60"],
    {
      cwd: INTEROP_APP_DIR,
      env: { ...process.env, FLOWER_UNAUTHENTICATED_API: "true", PYTHONDONTWRITEBYTECODE: "1" },
    },
  );
  const get = async (path: string): Promise<FlowerAnswer> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    return { status: response.status, body };
  };
  const poll = async (path: string, probe: (body: unknown) => boolean, tries = 300): Promise<unknown> => {
    let last: unknown = null;
    for (let i = 0; i < tries; i++) {
      const answer = await get(path);
      last = answer.body;
      if (answer.status === 200 && probe(last)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return last;
  };
  await waitUntil(
    "flower",
    async () => {
      try {
        return (await get("/healthcheck")).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 60_000, intervalMs: 100, child },
  );
  return { url, child, get, poll, stop: () => child.terminate("SIGTERM", 5000).then(() => undefined) };
}
