//! What happens when the process-wide OpenTelemetry globals are in play: spans made
//! through `opentelemetry::global` in a handler join the sender's trace; an application
//! that installs its own SDK (with the simple or the batch span processor) and uses
//! `GlobalInstrumentation` can send from sync code; `Telemetry::extract` reads W3C headers
//! whatever the global propagator is; and dropping the last `Telemetry` clone while the
//! global tracer provider still holds its pipeline exports what was buffered.
//!
//! `GlobalInstrumentation` also records the actor metrics into the global meter provider,
//! and the `log` crate reaches the log bridge through tracing-log.
//!
//! Every test that installs a global tracer provider or propagator lives here, in this
//! one test binary, so no other test sees them; each holds [`GLOBALS`] while it sets up
//! and uses the globals, and installs everything it relies on itself.

mod common;

use std::time::Duration;

use actor_core::trace::GlobalInstrumentation;
use actor_core::{Actor, ActorSystem, Ctx, Handler, MailboxSize, Message};
use actor_otel::attribute::ACTOR_NAME;
use actor_otel::testing::{MemoryExporter, OtlpReceiver, SpanStore};
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, Telemetry};
use common::telemetry::*;
use common::*;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer};
use opentelemetry::{global, Context};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SimpleSpanProcessor};

/// Held by each test while it sets up and uses the globals.
static GLOBALS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// Spans through `opentelemetry::global` in a handler.

/// Makes a `via-global` span through `opentelemetry::global` after an await.
struct ViaGlobal;
impl Actor for ViaGlobal {}
struct SpanViaGlobal;
impl Message for SpanViaGlobal {
    type Reply = ();
}
impl Handler<SpanViaGlobal> for ViaGlobal {
    async fn handle(&mut self, _: SpanViaGlobal, _cx: &mut Ctx<Self>) {
        tokio::time::sleep(Duration::from_millis(1)).await;
        global::tracer("app").start("via-global").end();
    }
}

#[tokio::test]
async fn global_tracer_spans_in_handlers_are_children() {
    let _globals = GLOBALS.lock().await;
    let store = SpanStore::new();
    let telemetry = Telemetry::builder()
        .service_name("global-test")
        .exporter(Exporter::memory(&store))
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();

    // With actor-otel's per-actor pipelines.
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", || ViaGlobal).unwrap();
    let cx = Context::current_with_span(global::tracer("caller").start("request"));
    worker
        .ask(SpanViaGlobal)
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;
    let request = store.one("request");
    let process = store.one("process worker");
    let via_global = store.one("via-global");
    assert!(process.is_child_of(&request));
    assert!(via_global.is_child_of(&process));
    // The global provider is the system's pipeline: no actor resource on that span.
    assert!(via_global.resource_attribute(ACTOR_NAME).is_none());
    // The system's shutdown also shut its telemetry down: later spans are counted as dropped.
    assert!(telemetry.shutdown().is_ok());

    // With the global provider only (an application that installed its SDK itself).
    let store = SpanStore::new();
    let telemetry = Telemetry::builder()
        .exporter(Exporter::memory(&store))
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(GlobalInstrumentation)
        .build();
    let worker = system.spawn("worker", || ViaGlobal).unwrap();
    let cx = Context::current_with_span(global::tracer("caller").start("request"));
    worker
        .tell(SpanViaGlobal)
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    let request = store.one("request");
    let send = store.one("send worker");
    let process = store.one("process worker");
    assert!(send.is_child_of(&request));
    assert!(process.is_child_of(&send));
    assert!(store.one("via-global").is_child_of(&process));
    let stats = telemetry.stats();
    assert_eq!(stats.spans_ended, stats.spans_exported);
    assert_eq!(stats.spans_lost(), 0);
}

// The application's own SDK, with the simple and the batch span processor.

/// Slow enough that the next blocking tell waits for room.
struct Slow;
impl Actor for Slow {}
struct SlowJob;
impl Message for SlowJob {
    type Reply = ();
}
impl Handler<SlowJob> for Slow {
    async fn handle(&mut self, _: SlowJob, _cx: &mut Ctx<Self>) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

const TELLS: usize = 20;

/// Blocking tells (many of them waiting for room) and a blocking ask from a plain thread,
/// inside a `request` span; returns the store once everything was flushed.
fn run_with(provider: SdkTracerProvider, store: SpanStore) -> SpanStore {
    global::set_tracer_provider(provider.clone());
    let system = ActorSystem::builder()
        .instrumentation(GlobalInstrumentation)
        .build();
    let slow = system
        .actor("slow")
        .mailbox(MailboxSize::Bounded(1))
        .spawn(|| Slow)
        .unwrap();
    std::thread::spawn(move || {
        let span = global::tracer("app").start("request");
        let _active = Context::current_with_span(span).attach();
        for _ in 0..TELLS {
            slow.blocking_tell(SlowJob).unwrap();
        }
        slow.blocking_ask(SlowJob).unwrap();
        Context::current().span().end();
    })
    .join()
    .expect("the blocking calls must not panic");
    let report = system.blocking_shutdown();
    assert_eq!(report.handled(), TELLS as u64 + 1);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    store
}

/// One `request`, a `send` per tell under it, a `process` per message under its `send`
/// (or, for the ask, under the request).
fn assert_one_connected_trace(store: &SpanStore) {
    let request = store.one("request");
    let sends = store.named("send slow");
    let processes = store.named("process slow");
    assert_eq!(sends.len(), TELLS, "a send span per tell");
    assert_eq!(processes.len(), TELLS + 1, "a process span per message");
    assert!(sends.iter().all(|s| s.is_child_of(&request)));
    for process in &processes {
        let parent = sends
            .iter()
            .find(|s| process.is_child_of(s))
            .map_or(request.span_id(), |s| s.span_id());
        assert_eq!(process.parent_span_id(), parent);
        assert_eq!(process.trace_id(), request.trace_id());
    }
    assert_eq!(store.len(), 1 + TELLS + TELLS + 1, "nothing lost");
}

#[test]
fn blocking_sends_work_with_the_sdks_simple_and_batch_processors() {
    let _globals = GLOBALS.blocking_lock();
    let store = SpanStore::new();
    let simple = SdkTracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(MemoryExporter::new(store.clone())))
        .build();
    assert_one_connected_trace(&run_with(simple, store));

    let store = SpanStore::new();
    let batch = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(MemoryExporter::new(store.clone())).build(),
        )
        .build();
    assert_one_connected_trace(&run_with(batch, store));
}

// The global propagator and the global tracer provider under `Telemetry`.

// The B3 propagator ships in opentelemetry-zipkin, deprecated as a whole (its exporter).
#[allow(deprecated)]
#[tokio::test]
async fn telemetry_extract_uses_its_own_propagator_whatever_the_global_one() {
    let _globals = GLOBALS.lock().await;
    // The application installed B3 as its global propagator.
    global::set_text_map_propagator(opentelemetry_zipkin::Propagator::new());
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = Telemetry::builder()
        .exporter(otlp_to(OtlpProtocol::HttpProtobuf, &receiver))
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", Worker::default).unwrap();

    let headers = incoming_headers();
    // The global (B3) propagator does not read W3C headers …
    let through_global = actor_core::trace::carrier::extract(&headers);
    assert!(!through_global.span().span_context().is_valid());
    // … the telemetry's own W3C propagator does.
    let cx = telemetry.extract(&headers);
    assert!(cx.span().span_context().is_remote());
    worker
        .tell(Work { awaits: 0, tag: 0 })
        .with_context(cx.clone())
        .await
        .unwrap();
    let tenant = worker
        .ask(Work { awaits: 0, tag: 0 })
        .with_context(cx)
        .await
        .unwrap();
    assert_eq!(tenant, "acme");
    system.shutdown().await;

    let spans = receiver.spans();
    assert_eq!(spans.len(), 5, "send, 2 × process, 2 × inner");
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
        .exporter(otlp_to(OtlpProtocol::HttpProtobuf, &receiver))
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

// Metrics through the global meter provider.

#[tokio::test(flavor = "multi_thread")]
async fn global_instrumentation_records_actor_metrics_in_the_global_meter_provider() {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
    let _globals = GLOBALS.lock().await;
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter.clone())
        .build();
    global::set_meter_provider(provider.clone());
    let system = ActorSystem::builder()
        .name("own-sdk")
        .instrumentation(GlobalInstrumentation)
        .build();
    let actor = system.spawn("counted", Probe::default).unwrap();
    for i in 0..40 {
        actor.tell(Push(i)).await.unwrap();
    }
    assert_eq!(actor.ask(Seen).await.unwrap().len(), 40);
    system.shutdown().await;
    provider.shutdown().unwrap();
    let exports = exporter.get_finished_metrics().unwrap();
    let consumed: u64 = exports
        .last()
        .expect("the provider's shutdown exports")
        .scope_metrics()
        .flat_map(|s| s.metrics())
        .filter(|m| m.name() == "messaging.client.consumed.messages")
        .map(|m| match m.data() {
            AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
                .data_points()
                .filter(|p| {
                    p.attributes().any(|kv| {
                        kv.key.as_str() == "messaging.destination.name"
                            && kv.value.as_str() == "counted"
                    })
                })
                .map(|p| p.value())
                .sum(),
            _ => 0,
        })
        .sum();
    assert_eq!(consumed, 41, "40 tells and the ask");
}

// The `log` crate, through tracing-log, into the log bridge.

struct LogsViaLogCrate;
impl Actor for LogsViaLogCrate {}
struct Note(u32);
impl Message for Note {
    type Reply = ();
}
impl Handler<Note> for LogsViaLogCrate {
    async fn handle(&mut self, Note(n): Note, _cx: &mut Ctx<Self>) {
        log::info!("note {n} through the log crate");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn log_crate_records_in_a_handler_are_log_records_on_its_process_span() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let _globals = GLOBALS.lock().await;
    // The process-wide `log` logger; only this test uses it.
    tracing_log::LogTracer::init().unwrap();
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = exporting_to(&receiver);
    let subscriber = tracing_subscriber::registry().with(telemetry.log_layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actor = system.spawn("noter", || LogsViaLogCrate).unwrap();
    actor.ask(Note(7)).await.unwrap();
    system.shutdown().await;
    let records = receiver.logs();
    let record = records
        .iter()
        .find(|r| r.body() == "note 7 through the log crate")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(record.resource[ACTOR_NAME], "noter");
    let spans = receiver.spans();
    let process = spans
        .iter()
        .find(|s| s.span_id() == record.span_id())
        .unwrap();
    assert_eq!(process.name(), "process noter");
}
