/**
 * Types shared by the service provider (vitest main process) and the test-side API.
 */

/** `amqps` is the TLS listener of the shared local RabbitMQ node. */
export type ServiceName = "redis" | "amqp" | "amqps" | "postgres";

export type ServiceSource = "local" | "env" | "testcontainers";

export interface ServiceAnswer {
  /**
   * Redis: no database path (db 0). AMQP: default vhost "/", guest credentials. PostgreSQL: the
   * `postgres` maintenance database of a superuser (tests get databases of their own).
   */
  url: string;
  source: ServiceSource;
  /** For amqps: the CA that signed the server certificate. */
  caPath?: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the run's ServiceProvider (see global-setup.ts). */
    celeriacServiceEndpoint: string;
  }
}
