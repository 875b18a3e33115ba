/**
 * vitest globalSetup: starts the run's ServiceProvider (lazy Redis/RabbitMQ, see
 * service-provider.ts) and tears every server down when the run ends.
 */
import type { TestProject } from "vitest/node";
import { ServiceProvider } from "./service-provider.js";
import "./service-types.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const provider = new ServiceProvider();
  project.provide("celeriacServiceEndpoint", await provider.listen());
  return () => provider.close();
}
