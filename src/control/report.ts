import { arch, release, type } from "node:os";
import type { Settings } from "../config.js";
import { softwareInfo } from "../events/event.js";
import { pyRepr } from "../protocol/py-repr.js";
import { confChanges, sanitizedUrl } from "./conf-table.js";

/**
 * The `report` reply (celery/app/utils.py `bugreport` and `BUGREPORT_INFO`, 5.7.0), line for line
 * in Celery's layout so tools that show or parse it keep working, with this process's honest
 * values: `celery:` names the Celery minor Celeriac speaks (its compat profile) with the Celeriac
 * version where Python names its codename; where Python names kombu, Python, billiard and the
 * broker driver, a TS worker names Node.js, Celeriac and its broker client; the loader is
 * Celeriac (no Python loader class runs); `imp:` is Node.js where Python says CPython.
 */
export function bugreport(settings: Settings): string {
  const scheme = settings.broker.split("://")[0] ?? "";
  const driver = scheme.startsWith("amqp") ? "amqplib" : "ioredis";
  const { sw_ver } = softwareInfo();
  const bits = /64/.test(arch()) ? "64bit" : "32bit";
  const human = confChanges(settings)
    .map(([key, value]) => `${key}: ${pyRepr(value)}`)
    .join("\n");
  return [
    "",
    `software -> celery:${settings.compat.minor} (celeriac ${sw_ver}) node:${process.versions.node}`,
    `            celeriac:${sw_ver} ${driver}`,
    `platform -> system:${type()} arch:${bits}${process.platform === "linux" ? ", ELF" : ""}`,
    `            kernel version:${release()} imp:Node.js`,
    "loader   -> celeriac",
    `settings -> transport:${scheme} results:${sanitizedUrl(settings.backend ?? "disabled")}`,
    "",
    human,
    "",
  ].join("\n");
}
