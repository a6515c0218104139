//! Export: spans over OTLP (HTTP/protobuf and gRPC) to a real receiver, with one connection
//! per system (or one per actor when asked) and each actor's spans under its own resource;
//! a collector that is down, slow, failing or stuck never blocks actors nor shutdown; one
//! `Telemetry` shared by several systems keeps exporting until the last one stops, and a
//! system attached after that is told in the stats.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actor_core::trace::attribute::{THREAD_ID, THREAD_NAME};
use actor_core::{ActorRef, ActorSystem};
use actor_otel::attribute::ACTOR_NAME;
use actor_otel::testing::{Behaviour, OtlpReceiver};
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, PipelineMode, Telemetry};
use common::telemetry::*;
use common::*;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::Context;

// Over the wire: one trace, per-actor resources, the connections of each pipeline mode.

/// Runs 4 actors under `mode`, exporting to `receiver`; returns the telemetry.
async fn run(protocol: OtlpProtocol, mode: PipelineMode, receiver: &OtlpReceiver) -> Telemetry {
    let telemetry = Telemetry::builder()
        .service_name("wire-test")
        .exporter(otlp_to(protocol, receiver))
        .pipeline(mode)
        .global(false)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_millis(20),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actors: Vec<_> = (0..4)
        .map(|i| system.spawn(format!("stage{i}"), Worker::default).unwrap())
        .collect();
    let cx = Context::current_with_span(telemetry.tracer("test").start("request"));
    for actor in &actors {
        actor
            .ask(Work { awaits: 1, tag: 0 })
            .with_context(cx.clone())
            .await
            .unwrap();
        actor
            .tell(Work { awaits: 1, tag: 0 })
            .with_context(cx.clone())
            .await
            .unwrap();
    }
    cx.span().end();
    let report = system.shutdown().await;
    assert!(report.all_in_time());
    telemetry
}

fn check_wire(protocol: OtlpProtocol, mode: PipelineMode, expected_connections: usize) {
    let receiver = receiver_for(protocol);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let telemetry = runtime.block_on(run(protocol, mode, &receiver));
    // request + per actor: (process + inner) for the ask, (send + process + inner) for the tell.
    let expected = 1 + 4 * 5;
    let stats = telemetry.stats();
    assert_eq!(stats.spans_ended, expected as u64, "{stats:?}");
    assert_eq!(stats.spans_exported, expected as u64, "{stats:?}");
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
    let spans = receiver.spans();
    assert_eq!(
        spans.len(),
        expected,
        "everything is on the wire after shutdown"
    );

    let traces: HashSet<String> = spans.iter().map(|s| s.trace_id()).collect();
    assert_eq!(traces.len(), 1, "one trace");
    let request = spans.iter().find(|s| s.name() == "request").unwrap();
    assert_eq!(request.parent_span_id(), "");
    assert_eq!(request.resource["service.name"], "wire-test");
    assert!(request.attribute(THREAD_NAME).is_some());
    for i in 0..4 {
        let name = format!("stage{i}");
        let processes: Vec<_> = spans
            .iter()
            .filter(|s| s.name() == format!("process {name}"))
            .collect();
        assert_eq!(processes.len(), 2);
        let send = spans
            .iter()
            .find(|s| s.name() == format!("send {name}"))
            .unwrap();
        assert_eq!(send.parent_span_id(), request.span_id());
        for p in &processes {
            assert!(
                p.parent_span_id() == request.span_id() || p.parent_span_id() == send.span_id()
            );
            let inner = spans
                .iter()
                .find(|w| w.name() == "inner" && w.parent_span_id() == p.span_id())
                .expect("inner is a child of its process span");
            assert_eq!(inner.resource, p.resource);
            if mode != PipelineMode::Shared {
                assert_eq!(p.resource[ACTOR_NAME], name);
                assert_eq!(p.resource[THREAD_NAME], name);
                assert_eq!(p.resource["service.name"], "wire-test");
                assert_eq!(Some(p.resource[THREAD_ID].clone()), p.attribute(THREAD_ID));
            }
        }
    }
    // Each hub opens one connection per signal it exports: spans and metrics here (the
    // actors log nothing), however many actors share the hub.
    assert_eq!(
        receiver.connections(),
        2 * expected_connections,
        "connections for {protocol:?} {mode:?}"
    );
}

#[test]
fn http_protobuf_per_actor_pipelines_share_one_connection() {
    check_wire(OtlpProtocol::HttpProtobuf, PipelineMode::PerActor, 1);
}

#[test]
fn grpc_per_actor_pipelines_share_one_connection() {
    check_wire(OtlpProtocol::Grpc, PipelineMode::PerActor, 1);
}

#[test]
fn http_protobuf_separate_exporters_open_one_connection_each() {
    check_wire(
        OtlpProtocol::HttpProtobuf,
        PipelineMode::PerActorExporter,
        5,
    );
}

#[test]
fn grpc_shared_pipeline_uses_one_connection() {
    check_wire(OtlpProtocol::Grpc, PipelineMode::Shared, 1);
}

#[tokio::test]
async fn per_actor_modes_export_under_the_actors_resource_and_shared_does_not() {
    for mode in [
        PipelineMode::PerActor,
        PipelineMode::PerActorExporter,
        PipelineMode::Shared,
    ] {
        let (system, telemetry, store) = traced(mode);
        let worker = system.spawn("worker", Worker::default).unwrap();
        let cx = root(&telemetry, "request");
        worker
            .ask(Work { awaits: 1, tag: 0 })
            .with_context(cx.clone())
            .await
            .unwrap();
        cx.span().end();
        system.shutdown().await;
        let request = store.one("request");
        let process = store.one("process worker");
        assert_child(&process, &request);
        assert_eq!(
            request.resource_attribute("service.name").unwrap().as_str(),
            TRACED_SERVICE
        );
        assert!(request.resource_attribute(ACTOR_NAME).is_none());
        match mode {
            PipelineMode::Shared => assert!(process.resource_attribute(ACTOR_NAME).is_none()),
            _ => {
                assert_eq!(
                    process.resource_attribute(ACTOR_NAME).unwrap().as_str(),
                    "worker"
                );
                assert_eq!(
                    process.resource_attribute(THREAD_NAME).unwrap().as_str(),
                    "worker"
                );
                assert_eq!(
                    process.resource_attribute(THREAD_ID),
                    process.attribute(THREAD_ID).cloned()
                );
                assert_eq!(
                    process.resource_attribute("service.name").unwrap().as_str(),
                    TRACED_SERVICE
                );
            }
        }
        assert_all_exported(&telemetry, &store);
    }
}

// A collector that is down, slow, failing or stuck.

/// Tells `n` jobs to each of `actors` and waits until all were handled.
async fn flood(system: &ActorSystem, actors: usize, n: u64) -> u64 {
    let handled = Arc::new(AtomicU64::new(0));
    let refs: Vec<_> = (0..actors)
        .map(|i| {
            let h = handled.clone();
            system
                .spawn(format!("busy{i}"), move || Flaky { handled: h.clone() })
                .unwrap()
        })
        .collect();
    for i in 0..n {
        for r in &refs {
            r.tell(Job {
                id: i,
                panic: false,
            })
            .await
            .unwrap();
        }
    }
    for r in &refs {
        r.ask(Job {
            id: 0,
            panic: false,
        })
        .await
        .unwrap();
    }
    handled.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_slow_or_failing_collector_never_blocks_actors() {
    let receiver_fail = OtlpReceiver::http().unwrap();
    receiver_fail.set_behaviour(Behaviour::Fail);
    let receiver_stall = OtlpReceiver::grpc().unwrap();
    receiver_stall.set_behaviour(Behaviour::Stall(Duration::from_secs(3_600)));
    // A port nobody listens on: bind, note it, close it.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let cases = [
        (
            "failing",
            OtlpProtocol::HttpProtobuf,
            receiver_fail.endpoint().to_owned(),
        ),
        (
            "stalled",
            OtlpProtocol::Grpc,
            receiver_stall.endpoint().to_owned(),
        ),
        ("down", OtlpProtocol::HttpProtobuf, closed),
    ];
    for (case, protocol, endpoint) in cases {
        let telemetry = Telemetry::builder()
            .exporter(Exporter::otlp(protocol, Some(endpoint)))
            .pipeline(PipelineMode::PerActor)
            .global(false)
            .batch(BatchConfig {
                max_batch_size: 256,
                max_queue_size: 2_048,
                scheduled_delay: Duration::from_millis(20),
                export_timeout: Duration::from_millis(200),
                flush_timeout: Duration::from_millis(500),
                ..BatchConfig::default()
            })
            .build()
            .unwrap();
        let system = ActorSystem::builder()
            .instrumentation(telemetry.clone())
            .build();
        // 2 actors x 5,000 messages: 2 spans each. If export blocked a receive loop, this
        // would wait on the collector (an hour, for the stalled one) and the test would hang.
        let handled = flood(&system, 2, 5_000).await;
        assert_eq!(handled, 2 * 5_000 + 2, "{case}");
        let report = system.shutdown().await;
        assert_eq!(report.handled(), handled, "{case}");
        let stats = telemetry.stats();
        assert_eq!(stats.spans_exported, 0, "{case}: {stats:?}");
        assert!(stats.spans_lost() > 0, "{case}: {stats:?}");
        // Every span is accounted for: dropped with a counted reason, or never left the
        // bounded queue before shutdown gave up on the collector.
        assert!(
            stats.spans_ended - stats.spans_lost() <= 2_048 + 2 * 256,
            "{case}: memory stays bounded by the queue: {stats:?}"
        );
        assert!(
            stats.last_error.is_some() || stats.spans_dropped_queue_full > 0,
            "{case}: {stats:?}"
        );
        // Every span is accounted for, and so is every final metric collection (2 actors and
        // the system): failed, or still queued behind the stuck collector; none succeeded.
        assert_eq!(
            stats.spans_exported + stats.spans_lost() + stats.spans_queued,
            stats.spans_ended,
            "{case}: {stats:?}"
        );
        assert_eq!(stats.metric_exports, 0, "{case}: {stats:?}");
        assert_eq!(
            stats.metric_exports_failed + stats.metric_exports_queued,
            3,
            "{case}: {stats:?}"
        );
    }
    assert!(receiver_fail.requests() > 0);
    assert!(receiver_stall.requests() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_collector_costs_shutdown_one_flush_timeout_not_one_per_actor() {
    let receiver = OtlpReceiver::grpc().unwrap();
    receiver.set_behaviour(Behaviour::Stall(Duration::from_secs(3_600)));
    let telemetry = Telemetry::builder()
        .exporter(otlp_to(OtlpProtocol::Grpc, &receiver))
        .global(false)
        .batch(BatchConfig {
            max_batch_size: 8,
            scheduled_delay: Duration::from_millis(10),
            export_timeout: Duration::from_secs(3_600),
            flush_timeout: Duration::from_millis(300),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let handled = flood(&system, 12, 20).await;
    assert_eq!(handled, 12 * 20 + 12);
    // Wait until the hub is inside an export that will never answer.
    eventually("an export to reach the stuck collector", || {
        receiver.requests() > 0
    });
    let report = system.shutdown().await;
    assert!(report.all_in_time());
    assert_eq!(report.handled(), handled);
    let stats = telemetry.stats();
    // The first actor's flush waits and times out; the other eleven and the system's do not wait.
    assert_eq!(stats.flushes_timed_out, 1, "{stats:?}");
    assert_eq!(stats.flushes_skipped, 12, "{stats:?}");
    assert_eq!(stats.spans_exported, 0);
    // Its stalled request would hold the receiver's shutdown until the client gives up.
    std::mem::forget(receiver);
}

// One `Telemetry` for several systems, and a system attached after its shutdown.

/// `n` requests into `system`'s `worker`: a `request` root span each on the caller side, and
/// a tell (send, process, work spans). Returns the number of spans made.
async fn requests(telemetry: &Telemetry, worker: &ActorRef<Worker>, n: i64, tag: i64) -> u64 {
    let tracer = telemetry.tracer("caller");
    for _ in 0..n {
        let cx = Context::current_with_span(tracer.start("request"));
        worker
            .tell(Work { awaits: 0, tag })
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
    let telemetry = exporting_to(&receiver);
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
        .map(|s| s.spawn("worker", Worker::default).unwrap())
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
    let after = named(&spans, "inner")
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
    let telemetry = exporting_to(&receiver);
    let first = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = first.spawn("worker", Worker::default).unwrap();
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
    let worker = late.spawn("worker", Worker::default).unwrap();
    worker.ask(Work { awaits: 0, tag: 3 }).await.unwrap();
    late.shutdown().await;
    let stats = telemetry.stats();
    // Its process and work spans are counted as dropped, not lost silently.
    assert_eq!(stats.spans_dropped_after_shutdown, 2, "{stats:?}");
    assert_eq!(receiver.spans().len(), 20);
}

// All three signals over the wire.

/// Logs a record through the actor-routing logger provider for each message.
struct Logging {
    logs: actor_otel::logs::ActorLoggerProvider,
}

impl actor_core::Actor for Logging {}

struct Handle(u64);
impl actor_core::Message for Handle {
    type Reply = ();
}
impl actor_core::Handler<Handle> for Logging {
    async fn handle(&mut self, Handle(n): Handle, _cx: &mut actor_core::Ctx<Self>) {
        use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
        let logger = self.logs.logger("app");
        let mut record = logger.create_log_record();
        record.set_body(format!("handled request {n}").into());
        record.set_severity_number(Severity::Info);
        record.set_severity_text("INFO");
        logger.emit(record);
    }
}

async fn three_signals(protocol: OtlpProtocol) {
    let receiver = receiver_for(protocol);
    let telemetry = Telemetry::builder()
        .service_name("three-signals")
        .exporter(otlp_to(protocol, &receiver))
        .global(false)
        .build()
        .unwrap();
    let logs = telemetry.logger_provider().expect("OTLP exports logs");
    let system = ActorSystem::builder()
        .name("signals")
        .instrumentation(telemetry.clone())
        .build();
    let actor = system
        .spawn("logging", move || Logging { logs: logs.clone() })
        .unwrap();
    let tracer = telemetry.tracer("test");
    let mut traces = Vec::new();
    for n in 0..5 {
        let cx = Context::current_with_span(tracer.start("request"));
        traces.push(cx.span().span_context().trace_id().to_string());
        actor.ask(Handle(n)).with_context(cx).await.unwrap();
    }
    system.shutdown().await;

    // Metrics: the final values equal what happened.
    let filter = [("messaging.destination.name", "logging")];
    assert_eq!(
        receiver.latest_total("messaging.client.consumed.messages", &filter),
        Some(5.0),
        "{protocol:?}"
    );
    assert_eq!(
        receiver.latest_total(
            "messaging.client.sent.messages",
            &[
                ("messaging.destination.name", "logging"),
                ("messaging.operation.name", "send")
            ]
        ),
        Some(5.0)
    );
    // Logs: one per request, in the actor's pipeline, on the request's `process` span.
    let records = receiver.logs();
    assert_eq!(records.len(), 5, "{protocol:?}");
    let spans = receiver.spans();
    for record in &records {
        assert_eq!(record.resource[ACTOR_NAME], "logging");
        assert!(record.body().starts_with("handled request"));
        let process = spans
            .iter()
            .find(|s| s.span_id() == record.span_id())
            .expect("the record's span was exported");
        assert_eq!(process.name(), "process logging");
        assert_eq!(process.trace_id(), record.trace_id());
        assert!(traces.contains(&record.trace_id()));
    }
    let stats = telemetry.stats();
    assert_eq!(stats.logs_emitted, 5, "{stats:?}");
    assert_eq!(stats.logs_exported, 5, "{stats:?}");
    assert!(stats.metric_exports >= 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn all_three_signals_reach_the_collector_over_http() {
    three_signals(OtlpProtocol::HttpProtobuf).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn all_three_signals_reach_the_collector_over_grpc() {
    three_signals(OtlpProtocol::Grpc).await;
}

/// Dependents stop first, and each actor's log records are exported with its spans and
/// metrics before the next actor stops: at the collector, the records come in stop order.
#[tokio::test(flavor = "multi_thread")]
async fn log_records_arrive_in_the_stop_order() {
    let receiver = OtlpReceiver::http().unwrap();
    // No scheduled export: with one every 20 ms, a loaded machine could export the first
    // actor's records before shutdown began, and the order would say nothing of the stop.
    let telemetry = Telemetry::builder()
        .service_name("telemetry-config")
        .exporter(otlp_to(OtlpProtocol::HttpProtobuf, &receiver))
        .global(false)
        .batch(BatchConfig {
            scheduled_delay: Duration::from_secs(3600),
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let logs = telemetry.logger_provider().unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let spawn = |name: &str, after: Option<actor_core::ActorId>| {
        let logs = logs.clone();
        let mut builder = system.actor(name);
        if let Some(id) = after {
            builder = builder.depends_on(id);
        }
        builder
            .spawn(move || Logging { logs: logs.clone() })
            .unwrap()
    };
    let store = spawn("store", None);
    let api = spawn("api", Some(store.id()));
    let edge = spawn("edge", Some(api.id()));
    // Tell in the opposite of the stop order, so arrival order is the flush order's doing.
    for actor in [&store, &api, &edge] {
        for n in 0..3 {
            actor.tell(Handle(n)).await.unwrap();
        }
    }
    system.shutdown().await;
    let order: Vec<String> = receiver
        .logs()
        .iter()
        .map(|r| r.resource[ACTOR_NAME].clone())
        .fold(Vec::new(), |mut order, name| {
            if order.last() != Some(&name) {
                order.push(name);
            }
            order
        });
    assert_eq!(order, ["edge", "api", "store"]);
}

// The benchmarks' encode-only exporter: the export thread's work without the network.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_encode_only_exporter_exports_every_span_and_record() {
    let telemetry = Telemetry::builder()
        .service_name("encode-only")
        .exporter({
            let exporter = Exporter::otlp_encode_only();
            assert_eq!(exporter.kind(), "otlp-encode-only");
            exporter
        })
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = Context::current_with_span(telemetry.tracer("test").start("request"));
    for tag in 0..50 {
        worker
            .tell(Work { awaits: 1, tag })
            .with_context(cx.clone())
            .await
            .unwrap();
    }
    worker
        .ask(Work { awaits: 1, tag: 50 })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    assert!(system.shutdown().await.all_in_time());
    telemetry.shutdown().unwrap();
    let stats = telemetry.stats();
    // The caller's SDK span, and a `send` and a `process` record per message at least.
    assert!(stats.spans_ended > 102, "{stats:?}");
    assert_eq!(stats.spans_exported, stats.spans_ended, "{stats:?}");
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
}
