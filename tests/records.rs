//! The framework's own spans as compact records (`actor_core::trace::record`), built into
//! spans on the export thread: sampled on the hot path (off, by trace-id ratio, following
//! an incoming unsampled parent with the default sampler or a chosen parent-based one),
//! every one created exported across a shutdown, and the same shape as the SDK spans they
//! replace.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use actor_core::ActorSystem;
use actor_otel::testing::{ExportedSpan, SpanStore};
use actor_otel::{BatchConfig, Exporter, PipelineMode, Telemetry};
use common::telemetry::{assert_all_exported, incoming_parent};
use common::*;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, TraceContextExt};
use opentelemetry_sdk::trace::Sampler;

/// A system exporting into memory with `sampler` (`None`: the default), compact records on
/// or off.
fn sampled(
    sampler: impl Into<Option<Sampler>>,
    compact: bool,
) -> (ActorSystem, Telemetry, SpanStore) {
    sampled_every(sampler, compact, Duration::from_millis(20))
}

/// [`sampled`] with the hub draining partial batches every `delay`.
fn sampled_every(
    sampler: impl Into<Option<Sampler>>,
    compact: bool,
    delay: Duration,
) -> (ActorSystem, Telemetry, SpanStore) {
    let store = SpanStore::new();
    let builder = Telemetry::builder()
        .service_name("records")
        .exporter(Exporter::memory(&store))
        .pipeline(PipelineMode::PerActor)
        .global(false);
    let builder = match sampler.into() {
        Some(sampler) => builder.sampler(sampler),
        None => builder,
    };
    let telemetry = builder
        .compact_spans(compact)
        .batch(BatchConfig {
            scheduled_delay: delay,
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .name("records")
        .instrumentation(telemetry.clone())
        .build();
    (system, telemetry, store)
}

fn work() -> Work {
    Work { awaits: 0, tag: 1 }
}

#[tokio::test]
async fn sampled_out_messages_export_nothing_and_spans_inside_them_are_unsampled() {
    let (system, telemetry, store) = sampled(Sampler::AlwaysOff, true);
    let worker = system.spawn("worker", Worker::default).unwrap();
    for _ in 0..20 {
        worker.tell(work()).await.unwrap();
    }
    let (inside, _) = worker.ask(WhatContext).await.unwrap();
    assert!(inside.is_valid(), "the handler runs in a trace");
    assert!(!inside.is_sampled(), "the handler's context says unsampled");
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    assert!(store.is_empty(), "exported: {:?}", names(&store.spans()));
    assert_eq!(telemetry.stats().spans_ended, 0);
}

#[tokio::test]
async fn a_ratio_sampler_exports_about_its_share_and_never_a_child_without_its_parent() {
    let (system, telemetry, store) = sampled(Sampler::TraceIdRatioBased(0.25), true);
    let worker = system.spawn("worker", Worker::default).unwrap();
    const N: usize = 2000;
    for _ in 0..N {
        worker.tell(work()).await.unwrap();
    }
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    assert_all_exported(&telemetry, &store);
    let spans = store.spans();
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_id()).collect();
    let sends = spans.iter().filter(|s| s.name() == "send worker").count();
    let processes = spans
        .iter()
        .filter(|s| s.name() == "process worker")
        .count();
    let inner = spans.iter().filter(|s| s.name() == "inner").count();
    // 500 expected; six standard deviations (about 20 each) either side.
    assert!((380..=620).contains(&sends), "{sends} of {N} sampled");
    assert_eq!((processes, inner), (sends, sends));
    for span in &spans {
        if span.name() != "send worker" {
            assert!(
                ids.contains(&span.parent_span_id()),
                "{} exported without its parent",
                span.name()
            );
        }
    }
}

/// A parent-based sampler follows an incoming `traceparent`: nothing of an unsampled one's
/// messages is recorded, a sampled one continues its trace. Chosen in code (asked through
/// the SDK), and with no sampler chosen (the default, `ParentBased(AlwaysOn)`, which the
/// records decide by its rule without the SDK call).
#[tokio::test]
async fn parent_based_sampling_follows_an_incoming_traceparent() {
    for sampler in [
        Some(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))),
        None,
    ] {
        let chosen = sampler.is_some();
        let (system, telemetry, store) = sampled(sampler, true);
        let worker = system.spawn("worker", Worker::default).unwrap();
        let incoming = |flags| incoming_parent(&telemetry, flags);
        let (inside, _) = worker
            .ask(WhatContext)
            .with_context(incoming("00"))
            .await
            .unwrap();
        assert!(
            inside.is_valid() && !inside.is_sampled(),
            "chosen: {chosen}"
        );
        worker
            .tell(work())
            .with_context(incoming("00"))
            .await
            .unwrap();
        let sampled_cx = incoming("01");
        worker
            .tell(work())
            .with_context(sampled_cx.clone())
            .await
            .unwrap();
        system.shutdown().await;
        telemetry.shutdown().unwrap();
        assert_all_exported(&telemetry, &store);
        let spans = store.spans();
        assert_eq!(
            names(&spans),
            ["inner", "process worker", "send worker"],
            "chosen: {chosen}"
        );
        let trace_id = sampled_cx.span().span_context().trace_id();
        assert!(spans.iter().all(|s| s.trace_id() == trace_id));
    }
}

#[tokio::test]
async fn an_actor_s_records_are_exported_by_its_own_stop() {
    // The hub drains nothing on its own schedule during the test.
    let (system, telemetry, store) =
        sampled_every(Sampler::AlwaysOn, true, Duration::from_secs(3600));
    let worker = system.spawn("worker", Worker::default).unwrap();
    for _ in 0..100 {
        worker.tell(work()).await.unwrap();
    }
    worker.stop();
    worker.wait_stopped().await;
    // Its teardown, on its thread, flushed its `process` records (and its user spans);
    // the caller's `send` records wait for the system pipeline, flushed last.
    let processes = store.named("process worker").len();
    assert_eq!((processes, store.named("inner").len()), (100, 100));
    assert!(store.named("send worker").is_empty());
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    assert_all_exported(&telemetry, &store);
    assert_eq!(store.named("send worker").len(), 100);
}

#[tokio::test]
async fn every_record_created_is_exported_across_the_shutdown() {
    let (system, telemetry, store) = sampled(Sampler::AlwaysOn, true);
    let workers: Vec<_> = (0..4)
        .map(|i| system.spawn(format!("w{i}"), Worker::default).unwrap())
        .collect();
    const N: usize = 3000;
    for i in 0..N {
        workers[i % workers.len()].tell(work()).await.unwrap();
    }
    // No wait: the shutdown drains the mailboxes and flushes every record.
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    assert_all_exported(&telemetry, &store);
    // A send, a process and a user span per message.
    assert_eq!(store.len(), 3 * N);
}

/// The shape of a span: name, kind, attribute keys in order, links, events, status, and
/// whether it has a parent.
fn shape(span: &ExportedSpan) -> String {
    let s = &span.span;
    let keys: Vec<&str> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
    let events: Vec<(String, Vec<&str>)> = s
        .events
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                e.attributes.iter().map(|kv| kv.key.as_str()).collect(),
            )
        })
        .collect();
    format!(
        "{} {:?} attrs={keys:?} links={} events={events:?} status={:?} parent={} sampled={} remote={}",
        s.name,
        s.span_kind,
        s.links.len(),
        s.status,
        s.parent_span_id != SpanId::INVALID,
        s.span_context.is_sampled(),
        s.parent_span_is_remote,
    )
}

/// The shapes of the spans of a tell, a failing ask, a panicking tell and an ask, sorted.
async fn shapes(compact: bool) -> Vec<String> {
    let (system, telemetry, store) = sampled(Sampler::AlwaysOn, compact);
    let worker = system.spawn("worker", Worker::default).unwrap();
    worker.tell(work()).await.unwrap();
    worker.ask(Fail::Error).await.unwrap().unwrap_err();
    worker.tell(Fail::Panic).await.unwrap();
    worker.ask(WhatContext).await.unwrap();
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    assert_all_exported(&telemetry, &store);
    let mut shapes: Vec<String> = store.spans().iter().map(shape).collect();
    shapes.sort();
    shapes
}

#[tokio::test]
async fn spans_built_from_records_have_the_shape_of_sdk_spans() {
    let sdk = shapes(false).await;
    let records = shapes(true).await;
    assert_eq!(records, sdk);
    // And the shape is the one promised, not merely the same.
    let failing = records
        .iter()
        .find(|s| s.starts_with("process worker") && s.contains("exception"))
        .expect("a failing process span");
    assert!(
        failing.contains(
            r#"attrs=["messaging.system", "messaging.destination.name", "messaging.operation.type", "messaging.operation.name", "actor.message.type", "actor.mailbox.wait_ns", "thread.name", "thread.id", "error.type"] links=0 events=[("exception", ["exception.type", "exception.message"])] status=Error"#
        ),
        "{failing}"
    );
}

fn names(spans: &[ExportedSpan]) -> Vec<String> {
    let mut names: Vec<String> = spans.iter().map(|s| s.name().to_owned()).collect();
    names.sort();
    names
}

/// Enriches the `process` span through the OpenTelemetry API, as handlers do.
struct Enricher;
impl actor_core::Actor for Enricher {}
impl actor_core::Handler<Work> for Enricher {
    async fn handle(&mut self, work: Work, _cx: &mut actor_core::Ctx<Self>) -> String {
        // After an `.await`, still the handler's own span.
        tokio::time::sleep(Duration::from_millis(work.awaits as u64)).await;
        let cx = opentelemetry::Context::current();
        let span = cx.span();
        assert!(
            span.is_recording(),
            "the process span records while the handler runs"
        );
        span.set_attribute(opentelemetry::KeyValue::new("order.id", work.tag));
        span.add_event("checked", vec![opentelemetry::KeyValue::new("ok", true)]);
        span.set_status(opentelemetry::trace::Status::error("declined"));
        String::new()
    }
}

#[tokio::test]
async fn a_handler_enriches_its_process_record_through_the_opentelemetry_api() {
    let (system, telemetry, store) = sampled(Sampler::AlwaysOn, true);
    let actor = system.spawn("enricher", || Enricher).unwrap();
    actor.ask(Work { awaits: 1, tag: 42 }).await.unwrap();
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    let process = store.one("process enricher");
    assert_eq!(
        process.attribute("order.id"),
        Some(&opentelemetry::Value::I64(42))
    );
    let data = &process.span;
    assert_eq!(
        data.events
            .iter()
            .map(|e| e.name.as_ref())
            .collect::<Vec<_>>(),
        ["checked"]
    );
    assert_eq!(data.status, opentelemetry::trace::Status::error("declined"));
}

#[tokio::test]
async fn without_a_sampler_the_default_comes_from_otel_traces_sampler() {
    // Read when the telemetry is built; every other test in this binary gives its sampler.
    std::env::set_var("OTEL_TRACES_SAMPLER", "always_off");
    let store = SpanStore::new();
    let built = Telemetry::builder()
        .service_name("env-sampler")
        .exporter(Exporter::memory(&store))
        .global(false)
        .build();
    std::env::remove_var("OTEL_TRACES_SAMPLER");
    let telemetry = built.unwrap();
    let system = ActorSystem::builder()
        .name("env-sampler")
        .instrumentation(telemetry.clone())
        .build();
    let worker = system.spawn("worker", Worker::default).unwrap();
    for _ in 0..10 {
        worker.ask(work()).await.unwrap();
    }
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    assert!(
        store.is_empty(),
        "always_off: nothing exported, got {:?}",
        names(&store.spans())
    );
}
