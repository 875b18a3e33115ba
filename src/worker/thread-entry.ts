import { parentPort } from "node:worker_threads";
import { childJobHandler } from "./module-job.js";

/**
 * Body of a pool thread: run each job (module-job.ts `childJobHandler`) and post back its
 * outcome; an `abort` message aborts the running job's `ctx.signal` (soft time limit, revoke).
 */
const post = (msg: unknown) => parentPort?.postMessage(msg);
parentPort?.on("message", childJobHandler(post, post));
