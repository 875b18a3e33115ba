/**
 * A throwaway test CA and a server certificate for localhost / 127.0.0.1, made with the openssl
 * CLI. Used by the TLS Redis and the amqps RabbitMQ listener.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "./ports.js";

export interface TestCerts {
  dir: string;
  /** PEM of the CA that signed the server certificate; pass as `ca` to TLS clients. */
  caPath: string;
  certPath: string;
  keyPath: string;
  /** For mutual TLS: the server pair doubles as a client certificate (its EKU has clientAuth). */
  clientCertPath: string;
  clientKeyPath: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(
      `openssl ${args[0]} failed: ${stderr || String(err)}\nInstall openssl (apt-get install -y openssl).`,
    );
  }
}

/**
 * Creates (or reuses, when `dir` already holds them) ca.crt, server.crt/key and client.crt/key.
 * The server certificate carries SANs DNS:localhost and IP:127.0.0.1 so clients may connect by
 * either name with verification on.
 */
export function makeTestCerts(dir: string = makeTempDir("tls")): TestCerts {
  const certs: TestCerts = {
    dir,
    caPath: join(dir, "ca.crt"),
    certPath: join(dir, "server.crt"),
    keyPath: join(dir, "server.key"),
    clientCertPath: join(dir, "server.crt"),
    clientKeyPath: join(dir, "server.key"),
  };
  if (existsSync(certs.caPath) && existsSync(certs.certPath) && existsSync(certs.keyPath)) return certs;
  const days = "3650";
  const ca = [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=celeriac-test-ca",
    "-days",
    days,
  ];
  openssl([...ca, "-keyout", "ca.key", "-out", "ca.crt.tmp"], dir);
  const csr = ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"];
  openssl([...csr, "-keyout", "server.key", "-out", "server.csr"], dir);
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  const sign = [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt.tmp",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
  ];
  openssl([...sign, "-out", "server.crt", "-days", days, "-extfile", "server.ext"], dir);
  // ca.crt appears last so a half-made directory is never mistaken for a finished one.
  writeFileSync(certs.caPath, readFileSync(join(dir, "ca.crt.tmp")));
  return certs;
}
