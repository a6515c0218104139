//! Telemetry configurations that involve the process-wide propagator and tracer provider
//! (issue 10, part 5), with spans counted at a real OTLP receiver. Its own test binary, as
//! it installs globals; the tests hold `GLOBALS` so each sets up the globals it needs.

use std::collections::HashMap;
use std::time::Duration;

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_otel::testing::OtlpReceiver;
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, Telemetry};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer};
use opentelemetry::{global, Context};

/// Held by each test while it sets up and uses the globals.
static GLOBALS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn exporter(receiver: &OtlpReceiver) -> Exporter {
    Exporter::otlp(
        OtlpProtocol::HttpProtobuf,
        Some(receiver.endpoint().to_owned()),
    )
}

struct Worker;
impl Actor for Worker {}

/// Records a `work` span; replies with the `tenant` baggage it sees.
struct Work;
impl Message for Work {
    type Reply = String;
}
impl Handler<Work> for Worker {
    async fn handle(&mut self, _: Work, cx: &mut Ctx<Self>) -> String {
        cx.tracer().start("work").end();
        Context::current()
            .baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

// The B3 propagator ships in opentelemetry-zipkin, deprecated as a whole (its exporter).
#[allow(deprecated)]
#[tokio::test]
async fn telemetry_extract_uses_its_own_propagator_whatever_the_global_one() {
    let _globals = GLOBALS.lock().await;
    // The application installed B3 as its global propagator.
    global::set_text_map_propagator(opentelemetry_zipkin::Propagator::new());
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = Telemetry::builder()
        .exporter(exporter(&receiver))
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", || Worker).unwrap();

    let headers: HashMap<String, String> = [
        ("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01")),
        ("baggage", "tenant=acme".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // The global (B3) propagator does not read W3C headers …
    let through_global = actor_core::trace::carrier::extract(&headers);
    assert!(!through_global.span().span_context().is_valid());
    // … the telemetry's own W3C propagator does.
    let cx = telemetry.extract(&headers);
    assert!(cx.span().span_context().is_remote());
    worker.tell(Work).with_context(cx.clone()).await.unwrap();
    let tenant = worker.ask(Work).with_context(cx).await.unwrap();
    assert_eq!(tenant, "acme");
    system.shutdown().await;

    let spans = receiver.spans();
    assert_eq!(spans.len(), 5, "send, 2 × process, 2 × work");
    assert!(spans.iter().all(|s| s.trace_id() == TRACE_ID));
    let send = spans.iter().find(|s| s.name() == "send worker").unwrap();
    assert_eq!(send.parent_span_id(), PARENT_ID);
    let stats = telemetry.stats();
    assert_eq!(stats.spans_exported, 5, "{stats:?}");
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
}

#[tokio::test]
async fn dropping_the_last_telemetry_clone_exports_what_was_buffered() {
    let _globals = GLOBALS.lock().await;
    let receiver = OtlpReceiver::http().unwrap();
    // The defaults: installed as the global tracer provider. The partial batch waits for
    // the schedule, which is far away.
    let telemetry = Telemetry::builder()
        .exporter(exporter(&receiver))
        .batch(BatchConfig {
            scheduled_delay: Duration::from_secs(3600),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let clone = telemetry.clone();
    let tracer = global::tracer("app");
    for i in 0..25 {
        let mut span = tracer.start(format!("job {i}"));
        span.end();
    }
    assert_eq!(clone.stats().spans_ended, 25);
    assert!(receiver.spans().is_empty(), "still buffered");

    // The end of `main` without a shutdown: the global provider outlives the handles.
    drop(clone);
    drop(telemetry);
    assert_eq!(
        receiver.spans().len(),
        25,
        "exported when the last clone went"
    );
}
