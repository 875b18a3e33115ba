import { hostname as osHostname } from "node:os";

/**
 * celery/utils/nodenames.py `default_nodename` + `host_format`: a name
 * without `@` gets `@<hostname>`; `%h` (host), `%n` (host's first label),
 * `%d` (domain) and `%%` are expanded.
 */
export function expandNodename(name: string | undefined, host: string = osHostname()): string {
  const raw = name === undefined || name === "" ? "celery@%h" : name.includes("@") ? name : `${name}@%h`;
  const dot = host.indexOf(".");
  const shortName = dot === -1 ? host : host.slice(0, dot);
  const domain = dot === -1 ? "" : host.slice(dot + 1);
  return raw.replace(/%([hnd%])/g, (_m, key: string) =>
    key === "h" ? host : key === "n" ? shortName : key === "d" ? domain : "%",
  );
}
