"""Asks a Rust actor served by actor-nats, from Python: nats-py for NATS, the OpenTelemetry
Python SDK for the trace (W3C headers injected by the SDK's global propagator, the span
exported over OTLP/HTTP to OTLP_TRACES_URL). Prints one JSON line with what it saw."""

import asyncio
import json
import os

import nats
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


async def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "python-client"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=os.environ["OTLP_TRACES_URL"]))
    )
    tracer = provider.get_tracer("python-client")
    subject = os.environ["SUBJECT"]
    nc = await nats.connect(os.environ["NATS_URL"])
    out = {}
    with tracer.start_as_current_span("python ask", kind=trace.SpanKind.PRODUCER) as span:
        headers = {"Actor-Message-Type": "Add", "Content-Type": "application/json"}
        propagate.inject(headers)
        reply = await nc.request(subject, json.dumps(21).encode(), timeout=5, headers=headers)
        out["reply"] = json.loads(reply.data)
        context = span.get_span_context()
        out["trace_id"] = format(context.trace_id, "032x")
        out["span_id"] = format(context.span_id, "016x")
    # A type the subject does not serve: the error comes back in the Actor-Error header.
    refused = await nc.request(
        subject, b"{}", timeout=5, headers={"Actor-Message-Type": "Nope"}
    )
    out["error"] = (refused.headers or {}).get("Actor-Error")
    out["error_text"] = refused.data.decode()
    await nc.close()
    provider.shutdown()
    print(json.dumps(out), flush=True)


asyncio.run(main())
