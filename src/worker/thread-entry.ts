import { parentPort } from "node:worker_threads";
import {
  errorReply,
  isStateAck,
  type ModuleJob,
  type ModuleReply,
  runModuleJob,
  stateChannel,
} from "./module-job.js";

/**
 * Body of a pool thread: run each job (module-job.ts) and post back its
 * outcome; an `abort` message aborts the running job's `ctx.signal`
 * (soft time limit, revoke).
 */
let controller = new AbortController();
const states = stateChannel((msg) => parentPort?.postMessage(msg));

parentPort?.on("message", (msg: { type: string; job?: ModuleJob }) => {
  if (isStateAck(msg)) {
    states.onAck(msg);
    return;
  }
  if (msg.type === "abort") {
    controller.abort(Object.assign(new Error("SoftTimeLimitExceeded()"), { name: "AbortError" }));
    return;
  }
  if (msg.type === "run" && msg.job) {
    controller = new AbortController();
    runModuleJob(msg.job, controller.signal, states.updateState).then(
      (reply) => parentPort?.postMessage(reply),
      (err: unknown) => parentPort?.postMessage(errorReply(err) satisfies ModuleReply),
    );
  }
});
