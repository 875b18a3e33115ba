// A TS app for the CLI tests: `celeriac worker --app test/support/cli-apps/tasks.ts`.
// URLs come from Celery's environment variables, which `--broker` / `--result-backend` set.
import { Celery } from "../../../src/app.js";

const app = new Celery({
  broker: process.env.CELERY_BROKER_URL ?? "redis://127.0.0.1:6379/0",
  backend: process.env.CELERY_RESULT_BACKEND ?? "redis://127.0.0.1:6379/0",
});

app.task("cli.add", (_ctx, a: number, b: number) => a + b);
app.task("cli.fail", () => {
  throw new Error("cli boom");
});

export default app;
