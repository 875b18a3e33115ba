/**
 * traceTaskRun without an OpenTelemetry SDK and without a propagator runs the handler as is (no
 * span, no context per task); with an SDK that samples the run span out, the span's context stays
 * active so what the handler starts is sampled out with it (ParentBased), not a new root.
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
} from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { traceTaskRun } from "../../src/tracing.js";

const task = { name: "t.add", id: "id-1", routingKey: "celery" };

afterEach(() => {
  trace.disable();
  context.disable();
});

describe("traceTaskRun", () => {
  it("without an SDK: the handler's value, no active span, its error rethrown", async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const seen: unknown[] = [];
    const value = await traceTaskRun(
      task,
      { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      async () => {
        seen.push(trace.getActiveSpan());
        return 7;
      },
    );
    expect(value).toBe(7);
    expect(seen).toEqual([undefined]);
    await expect(
      traceTaskRun(task, {}, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
  });

  it("an SDK that samples the run span out: children inside are sampled out with it", async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    // Roots named run/... are dropped, any other root is kept: a child that lost its parent
    // would be a kept root.
    const root: Sampler = {
      shouldSample: (_ctx, _trace, name) => ({
        decision: name.startsWith("run/") ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
      }),
      toString: () => "drop-run-spans",
    };
    trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler: new ParentBasedSampler({ root }) }));
    const outside = trace.getTracer("test").startSpan("outside");
    expect(outside.isRecording()).toBe(true);
    const inside = await traceTaskRun(task, {}, async () => {
      const active = trace.getActiveSpan();
      const child = trace.getTracer("test").startSpan("child");
      return {
        active: active?.spanContext().traceId,
        child: child.spanContext().traceId,
        recording: child.isRecording(),
      };
    });
    expect(inside.recording).toBe(false);
    expect(inside.child).toBe(inside.active);
    expect(
      trace.isSpanContextValid({ traceId: inside.active ?? "", spanId: "b7ad6b7169203331", traceFlags: 0 }),
    ).toBe(true);
  });
});
