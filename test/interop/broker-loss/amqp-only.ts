/** Broker-loss tests with no Redis counterpart: the CLI's exit status on an unreachable RabbitMQ. */
import { describe, expect, it } from "vitest";
import { celeriac } from "../../support/cli-apps/run.js";
import { freePort } from "../../support/ports.js";

export function defineAmqpOnly(): void {
  describe("RabbitMQ unreachable: the CLI", () => {
    it("the CLI exits 69 with one line", async () => {
      const url = `amqp://guest:guest@127.0.0.1:${await freePort()}//`;
      const run = await celeriac(["--broker", url, "call", "interop.add", "--args", "[1, 2]"]);
      expect(run.code).toBe(69);
      const lines = run.stderr.split("\n").filter((line) => line.trim() !== "");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/broker/i);
    }, 90_000);
  });
}
