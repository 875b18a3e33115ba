import { uuid4 } from "../../protocol/uuid4.js";
import { JsonShapeCache, jsonStringLiteral } from "../../serialization/json-shape.js";
import type { OutgoingMessage } from "../transport.js";
import {
  type BodyEncoding,
  buildEnvelope,
  priorityLevel,
  storedPriority,
  TRANSPORT_PROPERTIES,
  toBuffer,
} from "./envelope.js";

/**
 * The publisher's envelope writer: the same text as `JSON.stringify(buildEnvelope(message))`
 * (envelope.ts has the layout and the kombu functions it mirrors), written without building the
 * envelope object, the headers and properties through per-task-name templates
 * (serialization/json-shape.ts): messages of one task differ only in a few members, and
 * JSON.stringify of the whole envelope was the largest single cost of a send. Anything the
 * templates do not reproduce exactly goes through `JSON.stringify(buildEnvelope(...))`.
 */

/** Header members that differ from one message of a task to the next (celery/app/amqp.py `as_task_v2`, 5.7.0). */
const PER_MESSAGE_HEADERS: ReadonlySet<string> = new Set([
  "id",
  "root_id",
  "parent_id",
  "group",
  "group_index",
  "retries",
  "eta",
  "expires",
  "argsrepr",
  "kwargsrepr",
]);
/** Property members that differ per message (kombu `Producer.publish`: `expiration` from `expires`). */
const PER_MESSAGE_PROPERTIES: ReadonlySet<string> = new Set(["correlation_id", "expiration"]);

export interface EncodedEnvelope {
  /** The envelope text kombu LPUSHes / PUBLISHes. */
  value: string;
  /** The priority list it goes to (kombu `_get_message_priority` of the envelope). */
  priority: number;
}

/** The JSON literal of a string that is usually the same as last time (content type, queue). */
class LiteralMemo {
  private text: string | undefined;
  private literal = "";
  of(text: string): string {
    if (text !== this.text) {
      this.literal = jsonStringLiteral(text);
      this.text = text;
    }
    return this.literal;
  }
}

export class EnvelopeEncoder {
  private readonly contentEncoding = new LiteralMemo();
  private readonly contentType = new LiteralMemo();
  private readonly exchange = new LiteralMemo();
  private readonly routingKey = new LiteralMemo();
  private readonly bodyEncodingLiteral: string;
  private readonly headers = new JsonShapeCache({ variableKeys: PER_MESSAGE_HEADERS });
  private readonly properties = new JsonShapeCache({
    variableKeys: PER_MESSAGE_PROPERTIES,
    omitKeys: TRANSPORT_PROPERTIES,
  });

  constructor(private readonly bodyEncoding: BodyEncoding = "base64") {
    this.bodyEncodingLiteral = jsonStringLiteral(bodyEncoding);
  }

  encode(message: OutgoingMessage, deliveryTag: string = uuid4()): EncodedEnvelope {
    const priority = storedPriority(message.properties);
    const value =
      this.templated(message, priority, deliveryTag) ??
      JSON.stringify(buildEnvelope(message, { bodyEncoding: this.bodyEncoding, deliveryTag }));
    // The template's text is a rope of ~40 pieces; reading a character makes V8 flatten it now,
    // while the pieces are young garbage, instead of at the socket write after the batch built up.
    if (value.charCodeAt(0) !== 0x7b) throw new Error("a Redis envelope must be a JSON object");
    return { value, priority: priorityLevel(priority) };
  }

  private templated(message: OutgoingMessage, priority: number, deliveryTag: string): string | undefined {
    const { contentEncoding, contentType, exchange, routingKey } = message;
    if (
      typeof contentEncoding !== "string" ||
      typeof contentType !== "string" ||
      typeof exchange !== "string" ||
      typeof routingKey !== "string" ||
      typeof deliveryTag !== "string"
    )
      return undefined;
    const task = message.headers.task;
    const shapeKey = typeof task === "string" ? task : "";
    const headers = this.headers.stringify(message.headers, shapeKey);
    if (headers === undefined) return undefined;
    const own = this.properties.members(message.properties, shapeKey);
    if (own === undefined) return undefined;
    const body = toBuffer(message.body);
    // Base64 needs no escaping; UTF-8 text does.
    const bodyJson =
      this.bodyEncoding === "base64" ? `"${body.toString("base64")}"` : JSON.stringify(body.toString("utf8"));
    return `{"body":${bodyJson},"content-encoding":${this.contentEncoding.of(contentEncoding)},"content-type":${this.contentType.of(contentType)},"headers":${headers},"properties":{${own}${own === "" ? "" : ","}"delivery_info":{"exchange":${this.exchange.of(exchange)},"routing_key":${this.routingKey.of(routingKey)}},"priority":${priority},"body_encoding":${this.bodyEncodingLiteral},"delivery_tag":${jsonStringLiteral(deliveryTag)}}}`;
  }
}
