import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** The SDK half of lib/tracing.ts, loaded only when tracing is on (a process without a collector never loads it). */
export function createProvider(opts: { role: string; namespace: string; instance: string; url: string; sampleRatio: number }): NodeTracerProvider {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.role, 'service.namespace': opts.namespace, 'service.instance.id': opts.instance }),
    // A caller's sampled flag is followed; new traces are kept at sampleRatio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: opts.url, timeoutMillis: 5000 }))],
  });
}

/** Makes this provider the global one, with AsyncLocalStorage context and W3C traceparent propagation. */
export function registerGlobally(provider: NodeTracerProvider): void {
  provider.register({ propagator: new W3CTraceContextPropagator() });
}
