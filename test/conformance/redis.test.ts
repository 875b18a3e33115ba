import { DEFAULT_BROKER_TRANSPORT_OPTIONS } from "../../src/config-defaults.js";
import { RedisTransport } from "../../src/transports/redis/index.js";
import { parseRedisUrl } from "../../src/transports/redis/url.js";
import { allocateRedisDb } from "../support/services.js";
import { transportConformance } from "./transport-suite.js";

// One fresh database for the whole suite: every transport made here must see the same queues.
let dbUrl: Promise<string> | undefined;

transportConformance({
  name: "Redis",
  make: async () => {
    dbUrl ??= allocateRedisDb().then((db) => db.url);
    const url = await dbUrl;
    return new RedisTransport({
      endpoint: parseRedisUrl("broker", url),
      transportOptions: DEFAULT_BROKER_TRANSPORT_OPTIONS,
      permanentBindings: true,
      publishRetryPolicy: null,
    });
  },
  // kombu's Redis reject(requeue=True) pushes the message back unchanged; there is no redelivered flag.
  requeueMarksRedelivered: false,
});
