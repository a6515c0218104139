//! Telemetry configurations that used to drop traces silently (issue 10, part 5), with
//! spans counted at a real OTLP receiver: `.global(false)` with `carrier::extract`, and one
//! `Telemetry` shared by several systems. No test here installs a global propagator or
//! tracer provider (see `telemetry_config_global.rs` for those).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actor_core::trace::{Propagation, TracingOptions};
use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_otel::testing::{OtlpReceiver, ReceivedSpan};
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, Telemetry};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// Telemetry exporting over OTLP/HTTP to `receiver`, without touching the globals.
fn telemetry(receiver: &OtlpReceiver) -> Telemetry {
    Telemetry::builder()
        .service_name("telemetry-config")
        .exporter(Exporter::otlp(
            OtlpProtocol::HttpProtobuf,
            Some(receiver.endpoint().to_owned()),
        ))
        .global(false)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..BatchConfig::default()
        })
        .build()
        .unwrap()
}

/// Headers as they come from another service.
fn incoming_headers() -> HashMap<String, String> {
    [
        ("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01")),
        ("baggage", "tenant=acme".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

struct Worker;
impl Actor for Worker {}

/// Records a `work` span tagged `tag`; replies with the `tenant` baggage it sees.
struct Work(i64);
impl Message for Work {
    type Reply = String;
}
impl Handler<Work> for Worker {
    async fn handle(&mut self, Work(tag): Work, cx: &mut Ctx<Self>) -> String {
        let mut span = cx.tracer().start("work");
        span.set_attribute(KeyValue::new("tag", tag));
        span.end();
        Context::current()
            .baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

fn named<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name() == name).collect()
}

#[tokio::test]
async fn global_false_and_carrier_extract_continue_a_valid_traceparent() {
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = telemetry(&receiver);
    let system = ActorSystem::builder()
        .name("incoming")
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", || Worker).unwrap();

    // As the README shows it, with no global propagator installed.
    let cx = actor_core::trace::carrier::extract(&incoming_headers());
    assert!(
        cx.span().span_context().is_remote(),
        "the parent was adopted"
    );
    worker.tell(Work(1)).with_context(cx.clone()).await.unwrap();
    let tenant = worker.ask(Work(2)).with_context(cx).await.unwrap();
    assert_eq!(tenant, "acme", "the baggage came along");
    system.shutdown().await;

    let spans = receiver.spans();
    let send = named(&spans, "send worker");
    assert_eq!(send.len(), 1);
    assert_eq!(send[0].trace_id(), TRACE_ID);
    assert_eq!(
        send[0].parent_span_id(),
        PARENT_ID,
        "child of the remote parent"
    );
    let processes = named(&spans, "process worker");
    assert_eq!(processes.len(), 2);
    for process in &processes {
        assert_eq!(process.trace_id(), TRACE_ID);
    }
    // The ask has no send span: its process span is the remote parent's child.
    assert!(processes.iter().any(|p| p.parent_span_id() == PARENT_ID));
    assert!(processes
        .iter()
        .any(|p| p.parent_span_id() == send[0].span_id()));
    assert!(named(&spans, "work")
        .iter()
        .all(|w| w.trace_id() == TRACE_ID));
    let stats = telemetry.stats();
    // The tell: send, process, work; the ask: process, work.
    assert_eq!(stats.spans_ended, 5, "{stats:?}");
    assert_eq!(stats.spans_exported as usize, spans.len(), "{stats:?}");
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
}

// The B3 propagator ships in opentelemetry-zipkin, deprecated as a whole (its exporter).
#[allow(deprecated)]
#[tokio::test]
async fn the_system_extracts_with_the_propagator_it_knows() {
    use opentelemetry_zipkin::{B3Encoding, Propagator as B3};

    // With actor-otel and no global propagator: the telemetry's W3C, through the system.
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = telemetry(&receiver);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", || Worker).unwrap();
    let cx = system.extract(&incoming_headers());
    let tenant = worker.ask(Work(1)).with_context(cx).await.unwrap();
    assert_eq!(tenant, "acme");
    system.shutdown().await;
    let spans = receiver.spans();
    let process = named(&spans, "process worker");
    assert_eq!(process.len(), 1);
    assert_eq!(process[0].trace_id(), TRACE_ID);
    assert_eq!(process[0].parent_span_id(), PARENT_ID);

    // A system told to carry B3 reads B3 headers from outside too.
    let b3 = Arc::new(B3::with_encoding(B3Encoding::MultipleHeader));
    let system = ActorSystem::builder()
        .tracing(TracingOptions {
            propagation: Propagation::Carrier(b3),
            ..TracingOptions::default()
        })
        .build();
    let headers: HashMap<String, String> = [
        ("x-b3-traceid", TRACE_ID),
        ("x-b3-spanid", PARENT_ID),
        ("x-b3-sampled", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let cx = system.extract(&headers);
    let parent = cx.span().span_context().clone();
    assert!(parent.is_remote());
    assert_eq!(parent.trace_id().to_string(), TRACE_ID);
    assert_eq!(parent.span_id().to_string(), PARENT_ID);
    system.shutdown().await;
}

/// `n` requests into `system`'s `worker`: a `request` root span each on the caller side, and
/// a tell (send, process, work spans). Returns the number of spans made.
async fn requests(
    telemetry: &Telemetry,
    worker: &actor_core::ActorRef<Worker>,
    n: i64,
    tag: i64,
) -> u64 {
    let tracer = telemetry.tracer("caller");
    for _ in 0..n {
        let cx = Context::current_with_span(tracer.start("request"));
        worker
            .tell(Work(tag))
            .with_context(cx.clone())
            .await
            .unwrap();
        cx.span().end();
    }
    4 * n as u64
}

/// One `Telemetry` for two systems; `first` (0 or 1) shuts down first, then the other keeps
/// working and shuts down last.
async fn shared_by_two_systems(first: usize) {
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = telemetry(&receiver);
    let systems: Vec<ActorSystem> = ["a", "b"]
        .iter()
        .map(|name| {
            ActorSystem::builder()
                .name(*name)
                .instrumentation(telemetry.clone())
                .build()
        })
        .collect();
    let workers: Vec<_> = systems
        .iter()
        .map(|s| s.spawn("worker", || Worker).unwrap())
        .collect();
    let (stops_first, keeps_going) = (first, 1 - first);

    let mut made = 0;
    for worker in &workers {
        made += requests(&telemetry, worker, 20, 1).await;
    }
    let report = systems[stops_first].shutdown().await;
    assert_eq!(report.handled(), 20);
    // The other system keeps working after the first one shut down.
    made += requests(&telemetry, &workers[keeps_going], 30, 2).await;
    let report = systems[keeps_going].shutdown().await;
    assert_eq!(report.handled(), 50);

    let stats = telemetry.stats();
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
    assert_eq!(stats.spans_ended, made, "{stats:?}");
    assert_eq!(stats.spans_exported, made, "{stats:?}");
    let spans = receiver.spans();
    assert_eq!(spans.len() as u64, made, "every span reached the receiver");
    let after = named(&spans, "work")
        .iter()
        .filter(|w| w.attribute("tag").as_deref() == Some("2"))
        .count();
    assert_eq!(after, 30, "the spans made after the first shutdown too");
    // Each shutdown flushed the shared system pipeline; the last one shut it down.
    assert_eq!(
        stats.flush_order,
        vec!["worker", "system", "worker", "system"]
    );
}

#[tokio::test]
async fn one_telemetry_shared_by_two_systems_the_first_stops_first() {
    shared_by_two_systems(0).await;
}

#[tokio::test]
async fn one_telemetry_shared_by_two_systems_the_second_stops_first() {
    shared_by_two_systems(1).await;
}

#[tokio::test]
async fn a_system_attached_after_the_shutdown_is_told_in_the_stats() {
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = telemetry(&receiver);
    let first = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = first.spawn("worker", || Worker).unwrap();
    requests(&telemetry, &worker, 5, 1).await;
    first.shutdown().await;
    assert_eq!(receiver.spans().len(), 20);
    assert_eq!(telemetry.stats().last_error, None);

    // The last system stopped, so the pipeline is shut down: a new system cannot export.
    let late = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let stats = telemetry.stats();
    assert_eq!(stats.export_errors, 1, "{stats:?}");
    let error = stats.last_error.unwrap_or_default();
    assert!(
        error.contains("attached after this Telemetry was shut down"),
        "{error}"
    );
    let worker = late.spawn("worker", || Worker).unwrap();
    worker.ask(Work(3)).await.unwrap();
    late.shutdown().await;
    let stats = telemetry.stats();
    // Its process and work spans are counted as dropped, not lost silently.
    assert_eq!(stats.spans_dropped_after_shutdown, 2, "{stats:?}");
    assert_eq!(receiver.spans().len(), 20);
}
