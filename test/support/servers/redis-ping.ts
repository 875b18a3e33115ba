/**
 * A dependency-free PING used as the readiness probe for throwaway Redis servers (plain TCP,
 * TLS, or a unix socket). Deliberately not ioredis: its reconnect loop would hide a dead server.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export type RedisTarget =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "tls"; host: string; port: number; ca: Buffer }
  | { kind: "unix"; path: string };

export function redisPing(target: RedisTarget, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    let socket: Socket;
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    const onReady = () => socket.write("PING\r\n");
    if (target.kind === "tls") {
      socket = tlsConnect(
        { host: target.host, port: target.port, ca: target.ca, servername: target.host },
        onReady,
      );
    } else if (target.kind === "unix") {
      socket = netConnect({ path: target.path }, onReady);
    } else {
      socket = netConnect({ host: target.host, port: target.port }, onReady);
    }
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      // "-LOADING" while a dump is read is also "not ready"; only +PONG counts.
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"));
    });
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}
