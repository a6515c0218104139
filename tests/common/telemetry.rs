//! Telemetry for the tests: systems that export into memory ([`traced`]) or over OTLP to
//! a real receiver ([`exporting_to`]), the carriers another service would send, and the
//! ways to find and check the spans that arrived.

use std::collections::HashMap;
use std::time::Duration;

use actor_core::trace::TracingOptions;
use actor_core::ActorSystem;
use actor_otel::testing::{ExportedSpan, OtlpReceiver, ReceivedSpan, SpanStore};
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, PipelineMode, Telemetry};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// The service name of [`traced`] systems.
pub const TRACED_SERVICE: &str = "tracing-test";

/// A system named [`TRACED_SERVICE`] whose telemetry exports into memory in `mode`,
/// without touching the globals.
pub fn traced(mode: PipelineMode) -> (ActorSystem, Telemetry, SpanStore) {
    traced_with(mode, TracingOptions::default())
}

/// [`traced`] with the system's tracing options.
pub fn traced_with(
    mode: PipelineMode,
    options: TracingOptions,
) -> (ActorSystem, Telemetry, SpanStore) {
    let store = SpanStore::new();
    let telemetry = Telemetry::builder()
        .service_name(TRACED_SERVICE)
        .exporter(Exporter::memory(&store))
        .pipeline(mode)
        .global(false)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(50),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .name(TRACED_SERVICE)
        .instrumentation(telemetry.clone())
        .tracing(options)
        .build();
    (system, telemetry, store)
}

/// A real OTLP receiver speaking `protocol`.
pub fn receiver_for(protocol: OtlpProtocol) -> OtlpReceiver {
    match protocol {
        OtlpProtocol::HttpProtobuf => OtlpReceiver::http().unwrap(),
        OtlpProtocol::Grpc => OtlpReceiver::grpc().unwrap(),
    }
}

/// An OTLP exporter over `protocol` to `receiver`.
pub fn otlp_to(protocol: OtlpProtocol, receiver: &OtlpReceiver) -> Exporter {
    Exporter::otlp(protocol, Some(receiver.endpoint().to_owned()))
}

/// Telemetry exporting over OTLP/HTTP to `receiver` (service `telemetry-config`, 20 ms
/// batches), without touching the globals.
pub fn exporting_to(receiver: &OtlpReceiver) -> Telemetry {
    Telemetry::builder()
        .service_name("telemetry-config")
        .exporter(otlp_to(OtlpProtocol::HttpProtobuf, receiver))
        .global(false)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..BatchConfig::default()
        })
        .build()
        .unwrap()
}

/// A caller-side root span on the system pipeline.
pub fn root(telemetry: &Telemetry, name: &'static str) -> Context {
    Context::current_with_span(telemetry.tracer("test").start(name))
}

/// The trace id of the incoming carriers.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The parent span id of the incoming carriers.
pub const PARENT_ID: &str = "00f067aa0ba902b7";

/// W3C headers as they come from another service: a sampled `traceparent` with
/// [`TRACE_ID`] and [`PARENT_ID`], and `tenant=acme` baggage.
pub fn incoming_headers() -> HashMap<String, String> {
    [
        ("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01")),
        ("baggage", "tenant=acme".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The context `telemetry` reads from an incoming `traceparent` with [`TRACE_ID`],
/// [`PARENT_ID`] and the trace `flags` (`"01"` sampled, `"00"` not).
pub fn incoming_parent(telemetry: &Telemetry, flags: &str) -> Context {
    let headers = HashMap::from([(
        "traceparent".to_owned(),
        format!("00-{TRACE_ID}-{PARENT_ID}-{flags}"),
    )]);
    telemetry.extract(&headers)
}

/// The SDK's W3C TraceContext + Baggage composite propagator.
pub fn w3c_with_baggage() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The spans called `name` among those a receiver got.
pub fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name() == name).collect()
}

/// Panics unless `child` is a child of `parent`, saying both.
pub fn assert_child(child: &ExportedSpan, parent: &ExportedSpan) {
    assert!(
        child.is_child_of(parent),
        "`{}` should be a child of `{}`: {:?} / {:?} -> {:?}",
        child.name(),
        parent.name(),
        child.trace_id(),
        child.parent_span_id(),
        parent.span_id()
    );
}

/// Panics unless every span that ended was exported into `store`, none lost.
pub fn assert_all_exported(telemetry: &Telemetry, store: &SpanStore) {
    let stats = telemetry.stats();
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
    assert_eq!(stats.spans_ended, stats.spans_exported, "{stats:?}");
    assert_eq!(stats.spans_exported as usize, store.len(), "{stats:?}");
}
