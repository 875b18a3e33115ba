/**
 * AckBatch (issue 17 item 2): the acks of one turn become one `multiple=true` ack over the
 * oldest outstanding tags where that covers exactly the acked ones. The property: whatever the
 * order deliveries are acked and rejected in, the tags the broker sees acked (a multiple ack
 * expanded over every tag the broker still holds unacked, as AMQP 0-9-1 defines it) are exactly
 * the tags the consumer acked, never an unsettled or a rejected one.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AckBatch } from "../../../src/transports/amqp/ack-batch.js";

/** What RabbitMQ does with basic.ack / basic.reject on one channel. */
class BrokerChannel {
  readonly unacked = new Set<number>();
  readonly acked = new Set<number>();
  readonly frames: Array<{ tag: number; multiple: boolean }> = [];

  ack(message: { fields: { deliveryTag: number } }, allUpTo = false): void {
    const tag = message.fields.deliveryTag;
    this.frames.push({ tag, multiple: allUpTo });
    if (!this.unacked.has(tag)) throw new Error(`PRECONDITION_FAILED - unknown delivery tag ${tag}`);
    for (const t of [...this.unacked]) {
      if (t === tag || (allUpTo && t < tag)) {
        this.unacked.delete(t);
        this.acked.add(t);
      }
    }
  }

  reject(tag: number): void {
    if (!this.unacked.delete(tag)) throw new Error(`PRECONDITION_FAILED - unknown delivery tag ${tag}`);
  }
}

function flushTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("AckBatch", () => {
  it("acks of the oldest outstanding deliveries in one turn are one multiple ack", async () => {
    const broker = new BrokerChannel();
    const errors: Error[] = [];
    const batch = new AckBatch(broker, (e) => errors.push(e));
    for (let tag = 1; tag <= 8; tag++) {
      broker.unacked.add(tag);
      batch.delivered(tag);
    }
    for (const tag of [3, 1, 2, 4]) batch.ack(tag);
    await flushTurn();
    expect(broker.frames).toEqual([{ tag: 4, multiple: true }]);
    // 6 acked alone while 5 is still running; then 5, 7, 8 in one turn: 5 alone cannot cover 6
    // (already acked), so the multiple ack on 8 covers 5, 7 and 8.
    batch.ack(6);
    await flushTurn();
    for (const tag of [8, 5, 7]) batch.ack(tag);
    await flushTurn();
    expect(broker.frames.slice(1)).toEqual([
      { tag: 6, multiple: false },
      { tag: 8, multiple: true },
    ]);
    expect([...broker.acked].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(errors).toEqual([]);
  });

  it("never covers an unsettled or rejected delivery (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.shuffledSubarray(
              Array.from({ length: n }, (_, i) => i + 1),
              { minLength: 0, maxLength: n },
            ),
            fc.array(fc.constantFrom("ack", "reject"), { minLength: n, maxLength: n }),
            fc.array(fc.integer({ min: 1, max: 6 }), { minLength: n, maxLength: n }),
          ),
        ),
        async ([n, order, kinds, turnSizes]) => {
          const broker = new BrokerChannel();
          const errors: Error[] = [];
          const batch = new AckBatch(broker, (e) => errors.push(e));
          for (let tag = 1; tag <= n; tag++) {
            broker.unacked.add(tag);
            batch.delivered(tag);
          }
          const expectAcked = new Set<number>();
          let i = 0;
          let turn = 0;
          while (i < order.length) {
            const size = turnSizes[turn++ % turnSizes.length] ?? 1;
            for (const tag of order.slice(i, i + size)) {
              if (kinds[tag - 1] === "reject") {
                batch.settledOtherwise(tag);
                broker.reject(tag);
              } else {
                expectAcked.add(tag);
                batch.ack(tag);
              }
            }
            i += size;
            await flushTurn();
            // After every turn the broker holds acked exactly what was acked so far.
            expect(broker.acked).toEqual(expectAcked);
          }
          expect(errors).toEqual([]);
          const untouched = Array.from({ length: n }, (_, k) => k + 1).filter((t) => !order.includes(t));
          for (const tag of untouched) expect(broker.unacked.has(tag)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("discard drops the queued acks of a closed channel; flush writes them at once", async () => {
    const broker = new BrokerChannel();
    const batch = new AckBatch(broker, () => {});
    broker.unacked.add(1);
    batch.delivered(1);
    batch.ack(1);
    batch.flush();
    expect(broker.frames).toEqual([{ tag: 1, multiple: false }]);
    broker.unacked.add(2);
    batch.delivered(2);
    batch.ack(2);
    batch.discard();
    await flushTurn();
    expect(broker.frames).toHaveLength(1);
  });
});
