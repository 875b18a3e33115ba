/**
 * Where the stamping suite differs between Redis and RabbitMQ: how the broker URL is had and how
 * a Python snippet reads back the messages a worker forwarded to a capture queue nobody consumes
 * (Redis: the kombu JSON envelopes in the queue's list; RabbitMQ: `basic.get` of the AMQP message,
 * its headers table and body). Everything else in suite.ts is shared.
 */
import type { BrokerTransport } from "../../support/own-broker.js";
import { allocateRedisDb, amqpUrl } from "../../support/services.js";

export interface StampingProfile {
  readonly transport: BrokerTransport;
  readonly label: string;
  brokerUrl(): Promise<string>;
  /**
   * Python defining `capture_queues(*queues)`, called before a workflow sends to them, and
   * `_capture(queue, n, timeout)`: the first `n` messages sent to `queue`, oldest
   * first, each as `(headers, body bytes, content_type, content_encoding)`; waits up to `timeout` s.
   */
  readonly capturePy: string;
}

const redis: StampingProfile = {
  transport: "redis",
  label: "Redis",
  brokerUrl: async () => (await allocateRedisDb()).url,
  capturePy: `
def capture_queues(*queues):
    pass  # a list needs no declaration

def _capture(queue, n, timeout):
    client = app.connection_for_write().default_channel.client
    deadline = time.time() + timeout
    while client.llen(queue) < n:
        if time.time() > deadline:
            raise TimeoutError(f"{queue}: {client.llen(queue)} of {n} messages")
        time.sleep(0.05)
    out = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        out.append((envelope["headers"], body, envelope["content-type"], envelope["content-encoding"]))
    return out
`,
};

const amqp: StampingProfile = {
  transport: "amqp",
  label: "RabbitMQ",
  brokerUrl: () => amqpUrl(),
  // The capture queues are declared before the workflow runs (as Celery's producer declares a
  // missing queue, app.amqp.queues[name]) so that `_capture` can poll them with basic.get from the
  // start: a get on a queue that does not exist yet is a 404 that closes the channel. Both workers
  // also declare the queue of every step they send, as celery/app/amqp.py send_task_message does
  // (5.7.0; test/interop/amqp-declare-on-send.test.ts).
  capturePy: `
def capture_queues(*queues):
    with app.connection_for_write() as conn:
        for queue in queues:
            app.amqp.queues[queue].bind(conn.default_channel).declare()

def _capture(queue, n, timeout):
    deadline = time.time() + timeout
    out = []
    with app.connection_for_read() as conn:
        bound = app.amqp.queues[queue].bind(conn.default_channel)
        while len(out) < n:
            message = bound.get(no_ack=True)
            if message is None:
                if time.time() > deadline:
                    raise TimeoutError(f"{queue}: {len(out)} of {n} messages")
                time.sleep(0.05)
                continue
            out.append((message.headers, message.body, message.content_type, message.content_encoding))
    return out
`,
};

export const STAMPING_PROFILES: Record<BrokerTransport, StampingProfile> = { redis, amqp };
