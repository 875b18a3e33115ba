/** Starts `worker-main.ts` as a child process and waits for its `ready.` line. */
import { fileURLToPath } from "node:url";
import { type ChildExit, ChildHandle, tail } from "../process.js";

const MAIN = fileURLToPath(new URL("./worker-main.ts", import.meta.url));

export interface TsWorkerProcess {
  readonly hostname: string;
  readonly exited: Promise<ChildExit>;
  logs(): string;
  stop(graceMs?: number): Promise<ChildExit>;
  kill(): Promise<ChildExit>;
}

export async function startTsWorkerProcess(
  env: Record<string, string>,
  readyTimeoutMs = 30_000,
): Promise<TsWorkerProcess> {
  const hostname = env.TSW_HOSTNAME ?? `tsw-${Date.now().toString(36)}@localhost`;
  let ready!: () => void;
  const readyP = new Promise<void>((resolve) => {
    ready = resolve;
  });
  let seen = "";
  const child = new ChildHandle(process.execPath, ["--import", "tsx", MAIN], {
    env: { ...process.env, ...env, TSW_HOSTNAME: hostname },
    onOutput: (text) => {
      seen += text;
      if (seen.includes(`${hostname} ready.`)) ready();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    readyP.then(() => "ready" as const),
    child.exited.then(() => "exited" as const),
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), readyTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== "ready") {
    child.signal("SIGKILL");
    throw new Error(
      `TS worker did not become ready (${outcome}, ${child.describeExit()}):\n${tail(child.output())}`,
    );
  }
  return {
    hostname,
    exited: child.exited,
    logs: () => child.output(),
    stop: (graceMs = 30_000) => child.terminate("SIGTERM", graceMs),
    kill: () => child.terminate("SIGKILL"),
  };
}
