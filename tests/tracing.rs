//! Traced mailboxes (issue 3): exported spans prove the trace across tell, ask, chains,
//! pools, self-sends, outside carriers, failures and shutdown.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actor_core::trace::carrier::{extract_with, CarrierPolicy};
use actor_core::trace::{Propagation, Relation, TracingOptions};
use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, Message};
use actor_otel::testing::{ExportedSpan, SpanStore};
use actor_otel::{BatchConfig, Exporter, PipelineMode, Telemetry};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// A system whose telemetry exports into memory.
fn traced(mode: PipelineMode) -> (ActorSystem, Telemetry, SpanStore) {
    traced_with(mode, TracingOptions::default())
}

fn traced_with(mode: PipelineMode, options: TracingOptions) -> (ActorSystem, Telemetry, SpanStore) {
    let store = SpanStore::new();
    let telemetry = Telemetry::builder()
        .service_name("tracing-test")
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
        .name("tracing-test")
        .instrumentation(telemetry.clone())
        .tracing(options)
        .build();
    (system, telemetry, store)
}

/// A caller-side root span on the system pipeline.
fn root(telemetry: &Telemetry, name: &'static str) -> Context {
    Context::current_with_span(telemetry.tracer("test").start(name))
}

fn assert_child(child: &ExportedSpan, parent: &ExportedSpan) {
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

fn assert_all_exported(telemetry: &Telemetry, store: &SpanStore) {
    let stats = telemetry.stats();
    assert_eq!(stats.spans_lost(), 0, "{stats:?}");
    assert_eq!(stats.spans_ended, stats.spans_exported, "{stats:?}");
    assert_eq!(stats.spans_exported as usize, store.len(), "{stats:?}");
}

/// The actor under test.
#[derive(Default)]
struct Worker {
    next: Option<ActorRef<Worker>>,
}
impl Actor for Worker {}

/// Awaits a few times, then records an `inner` span.
struct Work {
    awaits: usize,
    tag: i64,
}
impl Message for Work {
    type Reply = String;
}
impl Handler<Work> for Worker {
    async fn handle(&mut self, work: Work, cx: &mut Ctx<Self>) -> String {
        for _ in 0..work.awaits {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tokio::task::yield_now().await;
        }
        let mut span = cx.tracer().start("inner");
        span.set_attribute(KeyValue::new("tag", work.tag));
        span.end();
        Context::current()
            .baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

/// Records a span, then tells (or asks) the next actor in the chain.
struct Relay {
    ask_next: bool,
}
impl Message for Relay {
    type Reply = ();
}
impl Handler<Relay> for Worker {
    async fn handle(&mut self, relay: Relay, cx: &mut Ctx<Self>) {
        let span = cx.tracer().start(format!("stage {}", cx.name()));
        let cx_stage = Context::current_with_span(span);
        if let Some(next) = &self.next {
            let hop = Relay { ask_next: false };
            if relay.ask_next {
                next.ask(hop).with_context(cx_stage.clone()).await.unwrap();
            } else {
                next.tell(hop).with_context(cx_stage.clone()).await.unwrap();
            }
        }
        cx_stage.span().end();
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the input was rejected")]
struct Rejected;

/// Fails with an error reply, or panics.
enum Fail {
    Error,
    Panic,
}
impl Message for Fail {
    type Reply = Result<(), Rejected>;
}
impl Handler<Fail> for Worker {
    async fn handle(&mut self, fail: Fail, _cx: &mut Ctx<Self>) -> Result<(), Rejected> {
        match fail {
            Fail::Error => Err(Rejected),
            Fail::Panic => panic!("handler exploded"),
        }
    }
}

/// Returns the context active in the handler.
struct WhatContext;
impl Message for WhatContext {
    type Reply = (SpanContext, String);
}
impl Handler<WhatContext> for Worker {
    async fn handle(&mut self, _: WhatContext, _cx: &mut Ctx<Self>) -> (SpanContext, String) {
        tokio::task::yield_now().await;
        let cx = Context::current();
        let tenant = cx
            .baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .unwrap_or_default();
        (cx.span().span_context().clone(), tenant)
    }
}

/// Tells itself `Tick(n - 1)` until zero.
struct Tick(u32);
impl Message for Tick {
    type Reply = ();
}
impl Handler<Tick> for Worker {
    async fn handle(&mut self, Tick(n): Tick, cx: &mut Ctx<Self>) {
        if n > 0 {
            cx.myself().tell(Tick(n - 1)).await.unwrap();
        }
    }
}

#[tokio::test]
async fn tell_one_trace_with_exact_edges() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    worker
        .tell(Work { awaits: 3, tag: 1 })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let send = store.one("send worker");
    let process = store.one("process worker");
    let inner = store.one("inner");
    assert_child(&send, &request);
    assert_child(&process, &send);
    assert_child(&inner, &process);
    assert_eq!(send.span.span_kind, SpanKind::Producer);
    assert_eq!(process.span.span_kind, SpanKind::Consumer);
    assert_eq!(
        process.span.links.links[0].span_context.span_id(),
        send.span_id()
    );
    assert_eq!(store.len(), 4);
    assert_all_exported(&telemetry, &store);

    // Messaging conventions on both sides.
    for span in [&send, &process] {
        assert_eq!(
            span.attribute("messaging.system").unwrap().as_str(),
            "actor-core"
        );
        assert_eq!(
            span.attribute("messaging.destination.name")
                .unwrap()
                .as_str(),
            "worker"
        );
        // Opt-in (`TracingOptions::message_ids`): the spans are joined by parent and link.
        assert!(span.attribute("messaging.message.id").is_none());
        assert!(span
            .attribute("actor.message.type")
            .unwrap()
            .as_str()
            .ends_with("Work"));
    }
    assert_eq!(
        send.attribute("messaging.operation.type").unwrap().as_str(),
        "send"
    );
    assert_eq!(
        process
            .attribute("messaging.operation.type")
            .unwrap()
            .as_str(),
        "process"
    );
    assert_eq!(process.attribute("thread.name").unwrap().as_str(), "worker");
    assert!(process.attribute("actor.mailbox.wait_ns").is_some());
}

#[tokio::test]
async fn without_process_spans_the_handler_runs_under_the_send_span() {
    let options = TracingOptions {
        process_spans: false,
        ..TracingOptions::default()
    };
    let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    worker
        .tell(Work { awaits: 2, tag: 1 })
        .with_context(cx.clone())
        .await
        .unwrap();
    let (active, _) = worker
        .ask(WhatContext)
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let send = store.one("send worker");
    let inner = store.one("inner");
    assert_child(&send, &request);
    // The message carries the send span's identity, not the span object: the handler's spans
    // are its children all the same, and the identity is local, not remote.
    assert_child(&inner, &send);
    assert!(!inner.span.parent_span_is_remote);
    // An ask makes no send span by default: the handler sees the caller's span.
    assert_eq!(active.span_id(), request.span_id());
    assert!(store.named("process worker").is_empty());
    assert_eq!(store.len(), 3);
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn message_ids_when_asked_for_match_on_both_sides() {
    let options = TracingOptions {
        message_ids: true,
        ..TracingOptions::default()
    };
    let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    for tag in 0..3 {
        worker
            .tell(Work { awaits: 0, tag })
            .with_context(cx.clone())
            .await
            .unwrap();
    }
    cx.span().end();
    system.shutdown().await;

    let sends = store.named("send worker");
    let processes = store.named("process worker");
    assert_eq!((sends.len(), processes.len()), (3, 3));
    let mut ids: Vec<String> = Vec::new();
    for process in &processes {
        let send = sends
            .iter()
            .find(|s| s.span_id() == process.parent_span_id())
            .expect("each process span has its send span as parent");
        let id = process.attribute("messaging.message.id").unwrap().as_str();
        assert_eq!(send.attribute("messaging.message.id").unwrap().as_str(), id);
        ids.push(id.into_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one id per message");
}

#[tokio::test]
async fn ask_spans_after_awaits_are_children() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let cx = root(&telemetry, "request");
    worker
        .ask(Work { awaits: 5, tag: 1 })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let process = store.one("process worker");
    let inner = store.one("inner");
    assert_child(&process, &request);
    assert_child(&inner, &process);
    assert!(
        store.named("send worker").is_empty(),
        "no send span for ask by default"
    );
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn a_chain_of_three_actors_is_one_trace() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let store_actor = system.spawn("store", Worker::default).unwrap();
    let s = store_actor.clone();
    let enrich = system
        .actor("enrich")
        .depends_on(store_actor.id())
        .spawn(move || Worker {
            next: Some(s.clone()),
        })
        .unwrap();
    let e = enrich.clone();
    let parse = system
        .actor("parse")
        .depends_on(enrich.id())
        .spawn(move || Worker {
            next: Some(e.clone()),
        })
        .unwrap();
    let cx = root(&telemetry, "request");
    // parse tells enrich, enrich... the hop flags: parse asks enrich, enrich tells store.
    parse
        .ask(Relay { ask_next: true })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    system.shutdown().await;

    let request = store.one("request");
    let p_process = store.one("process parse");
    let p_stage = store.one("stage parse");
    let e_process = store.one("process enrich");
    let e_stage = store.one("stage enrich");
    let s_send = store.one("send store");
    let s_process = store.one("process store");
    let s_stage = store.one("stage store");
    assert_child(&p_process, &request);
    assert_child(&p_stage, &p_process);
    assert_child(&e_process, &p_stage); // ask: no send span
    assert_child(&e_stage, &e_process);
    assert_child(&s_send, &e_stage); // tell: a send span
    assert_child(&s_process, &s_send);
    assert_child(&s_stage, &s_process);
    let traces: HashSet<TraceId> = store.spans().iter().map(|s| s.trace_id()).collect();
    assert_eq!(traces.len(), 1);
    assert_all_exported(&telemetry, &store);
    assert_eq!(
        telemetry.stats().flush_order,
        vec!["parse", "enrich", "store", "system"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pool_request_is_its_own_trace() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let pool = system.pool("pool", 3).spawn(Worker::default).unwrap();
    let requests: Vec<_> = (0..30)
        .map(|i| {
            let pool = pool.clone();
            let cx = root(&telemetry, "request");
            tokio::spawn(async move {
                pool.ask(Work { awaits: 1, tag: i })
                    .with_context(cx.clone())
                    .await
                    .unwrap();
                cx.span().end();
            })
        })
        .collect();
    for r in requests {
        r.await.unwrap();
    }
    system.shutdown().await;

    let roots = store.named("request");
    assert_eq!(roots.len(), 30);
    let traces: HashSet<TraceId> = roots.iter().map(|s| s.trace_id()).collect();
    assert_eq!(traces.len(), 30, "each request its own trace");
    let mut workers = HashSet::new();
    for request in &roots {
        let trace = store.trace(request.trace_id());
        assert_eq!(trace.len(), 3, "request, process, inner");
        let process = trace
            .iter()
            .find(|s| s.name().starts_with("process pool-"))
            .unwrap();
        let inner = trace.iter().find(|s| s.name() == "inner").unwrap();
        assert_child(process, request);
        assert_child(inner, process);
        workers.insert(
            process
                .resource_attribute("thread.name")
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        workers.len(),
        3,
        "the pool spread the requests: {workers:?}"
    );
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn concurrent_callers_on_one_current_thread_runtime_do_not_mix_contexts() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let worker = worker.clone();
            let tracer = telemetry.tracer("test");
            tokio::spawn(async move {
                let mut span = tracer.start("request");
                span.set_attribute(KeyValue::new("tag", i));
                let cx = Context::current_with_span(span);
                async {
                    tokio::task::yield_now().await;
                    worker.tell(Work { awaits: 1, tag: i }).await.unwrap();
                    tokio::task::yield_now().await;
                    worker.ask(Work { awaits: 0, tag: i }).await.unwrap();
                }
                .with_context(cx.clone())
                .await;
                cx.span().end();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    system.shutdown().await;

    let by_id: HashMap<SpanId, ExportedSpan> = store
        .spans()
        .into_iter()
        .map(|s| (s.span_id(), s))
        .collect();
    let inners = store.named("inner");
    assert_eq!(inners.len(), 80);
    for inner in inners {
        // Walk up to the root: it must be the request with the same tag.
        let mut span = &inner;
        while span.parent_span_id() != SpanId::INVALID {
            span = &by_id[&span.parent_span_id()];
        }
        assert_eq!(span.name(), "request");
        assert_eq!(span.attribute("tag"), inner.attribute("tag"));
    }
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn baggage_arrives_in_process_and_through_a_carrier() {
    let composite = TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]);
    for options in [
        TracingOptions::default(),
        TracingOptions {
            propagation: Propagation::Carrier(Arc::new(composite)),
            ..TracingOptions::default()
        },
    ] {
        let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
        let worker = system.spawn("worker", Worker::default).unwrap();
        let cx = root(&telemetry, "request").with_baggage(vec![KeyValue::new("tenant", "acme")]);
        let tenant = worker
            .ask(Work { awaits: 2, tag: 0 })
            .with_context(cx.clone())
            .await
            .unwrap();
        assert_eq!(tenant, "acme");
        cx.span().end();
        system.shutdown().await;
        assert_child(&store.one("process worker"), &store.one("request"));
        assert_child(&store.one("inner"), &store.one("process worker"));
        assert_all_exported(&telemetry, &store);
    }
}

#[tokio::test]
async fn an_external_w3c_traceparent_continues() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let headers: HashMap<String, String> = [
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "vendor=opaque"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let cx = extract_with(
        &TraceContextPropagator::new(),
        &headers,
        &CarrierPolicy::default(),
    );
    worker
        .tell(Work { awaits: 1, tag: 0 })
        .with_context(cx)
        .await
        .unwrap();
    system.shutdown().await;

    let send = store.one("send worker");
    assert_eq!(
        send.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        send.parent_span_id(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert!(send.span.parent_span_is_remote);
    assert_eq!(
        send.span.span_context.trace_state().header(),
        "vendor=opaque"
    );
    assert_child(&store.one("process worker"), &send);
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn malformed_or_oversized_carriers_start_a_fresh_trace() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    let good_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let huge = "x".repeat(100_000);
    let many_entries = (0..5_000)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let bad: Vec<Vec<(&str, String)>> = vec![
        vec![("traceparent", "garbage".into())],
        vec![("traceparent", format!("00-{good_id}-00f067aa0ba9"))],
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
        )],
        vec![("traceparent", format!("00-{good_id}-0000000000000000-01"))],
        vec![("traceparent", format!("ff-{good_id}-00f067aa0ba902b7-01"))],
        vec![(
            "traceparent",
            format!("00-{good_id}-00f067aa0ba902b7-01{huge}"),
        )],
        vec![(
            "traceparent",
            format!("00-{}-00f067aa0ba902b7-01", "é".repeat(16)),
        )],
        vec![
            ("traceparent", format!("00-{good_id}-00f067aa0ba902b7-01")),
            ("baggage", many_entries.clone()),
        ],
        vec![
            ("traceparent", format!("00-{good_id}-00f067aa0ba902b7-01")),
            ("tracestate", huge.clone()),
        ],
        vec![
            ("traceparent", format!("00-{good_id}-00f067aa0ba902b7-01")),
            ("baggage", huge.clone()),
        ],
    ];
    let composite = TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]);
    for (i, carrier) in bad.iter().enumerate() {
        let headers: HashMap<String, String> = carrier
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let cx = extract_with(&composite, &headers, &CarrierPolicy::default());
        let tenant = worker
            .ask(Work {
                awaits: 0,
                tag: i as i64,
            })
            .with_context(cx.clone())
            .await
            .unwrap();
        assert_eq!(tenant, "", "no baggage adopted from carrier {i}");
        let valid_parent = cx.span().span_context().is_valid();
        // Only the last three keep their (valid) traceparent; their oversized extras are dropped.
        assert_eq!(valid_parent, i >= 7, "carrier {i}");
        if i >= 7 {
            assert!(
                cx.span().span_context().trace_state().header().is_empty(),
                "carrier {i}"
            );
        }
    }
    system.shutdown().await;
    let processes = store.named("process worker");
    assert_eq!(processes.len(), bad.len());
    for p in processes {
        let tag_root = p.parent_span_id() == SpanId::INVALID;
        let continued = p.trace_id() == TraceId::from_hex(good_id).unwrap();
        assert!(tag_root != continued, "{p:?}");
    }
    assert_all_exported(&telemetry, &store);

    let refused = CarrierPolicy::without_baggage();
    let headers: HashMap<String, String> =
        [("baggage".to_string(), "tenant=evil".to_string())].into();
    assert!(extract_with(&composite, &headers, &refused)
        .baggage()
        .is_empty());
    assert!(
        !extract_with(&composite, &headers, &CarrierPolicy::default())
            .baggage()
            .is_empty()
    );
}

#[tokio::test]
async fn errors_and_panics_mark_the_process_span() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let worker = system.spawn("worker", Worker::default).unwrap();
    assert!(worker.ask(Fail::Error).await.unwrap().is_err());
    assert!(matches!(
        worker.ask(Fail::Panic).await,
        Err(actor_core::AskError::Panicked(_))
    ));
    system.shutdown().await;
    let processes = store.named("process worker");
    assert_eq!(processes.len(), 2);
    for p in &processes {
        assert!(
            matches!(p.span.status, Status::Error { .. }),
            "{:?}",
            p.span.status
        );
        let event = &p.span.events.events[0];
        assert_eq!(event.name, "exception");
        assert!(event
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "exception.message"));
    }
    let types: HashSet<String> = processes
        .iter()
        .map(|p| p.attribute("error.type").unwrap().to_string())
        .collect();
    assert!(types.contains("panic"));
    assert!(types.iter().any(|t| t.ends_with("Rejected")), "{types:?}");
    assert_all_exported(&telemetry, &store);
}

#[tokio::test]
async fn self_sends_are_linked_not_parented_by_default() {
    for relation in [Relation::Link, Relation::Parent] {
        let (system, telemetry, store) = traced(PipelineMode::PerActor);
        let ticker = system
            .actor("ticker")
            .trace_self_sends(relation)
            .spawn(Worker::default)
            .unwrap();
        let cx = root(&telemetry, "request");
        ticker.tell(Tick(3)).with_context(cx.clone()).await.unwrap();
        cx.span().end();
        actor_core_wait(&ticker).await;
        system.shutdown().await;
        let processes: Vec<_> = store
            .named("process ticker")
            .into_iter()
            .filter(|p| {
                p.attribute("actor.message.type")
                    .unwrap()
                    .as_str()
                    .ends_with("Tick")
            })
            .collect();
        assert_eq!(processes.len(), 4);
        let traces: HashSet<TraceId> = processes.iter().map(|p| p.trace_id()).collect();
        match relation {
            Relation::Link => {
                assert_eq!(traces.len(), 4, "each tick starts a linked trace");
                let linked = processes
                    .iter()
                    .filter(|p| p.parent_span_id() == SpanId::INVALID)
                    .count();
                assert_eq!(linked, 3);
                for p in processes
                    .iter()
                    .filter(|p| p.parent_span_id() == SpanId::INVALID)
                {
                    let link = &p.span.links.links[0].span_context;
                    let sender = store
                        .spans()
                        .into_iter()
                        .find(|s| s.span_id() == link.span_id())
                        .unwrap();
                    assert_eq!(sender.name(), "send ticker");
                }
            }
            Relation::Parent => assert_eq!(traces.len(), 1, "one trace when asked for"),
        }
        assert_all_exported(&telemetry, &store);
    }
}

/// Waits until the ticker has processed everything queued.
async fn actor_core_wait(actor: &ActorRef<Worker>) {
    for _ in 0..100 {
        actor.ask(WhatContext).await.unwrap();
        if actor.load() == 0 {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_load_exports_every_span() {
    let (system, telemetry, store) = traced(PipelineMode::PerActor);
    let workers: Vec<_> = (0..3)
        .map(|i| system.spawn(format!("w{i}"), Worker::default).unwrap())
        .collect();
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let workers = workers.clone();
            let tracer = telemetry.tracer("test");
            tokio::spawn(async move {
                let (mut sent, mut refused) = (0u64, 0u64);
                for i in 0..400 {
                    let cx = Context::current_with_span(tracer.start("produce"));
                    let w = &workers[(p + i) % workers.len()];
                    match w
                        .tell(Work {
                            awaits: 0,
                            tag: i as i64,
                        })
                        .with_context(cx.clone())
                        .await
                    {
                        Ok(()) => sent += 1,
                        Err(_) => refused += 1,
                    }
                    cx.span().end();
                }
                (sent, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = system.shutdown().await;
    let (mut sent, mut refused) = (0, 0);
    for p in producers {
        let (s, r) = p.await.unwrap();
        sent += s;
        refused += r;
    }
    assert_eq!(sent + refused, 8 * 400);
    assert_eq!(report.handled(), sent, "every accepted message was handled");
    assert!(report.all_in_time());
    // Producers that finished after the system pipeline shut down are counted, not lost silently.
    let stats = telemetry.stats();
    let processes = store
        .spans()
        .iter()
        .filter(|s| s.name().starts_with("process w"))
        .count();
    assert_eq!(
        processes as u64, sent,
        "one process span per handled message"
    );
    assert_eq!(store.named("inner").len() as u64, sent);
    assert_eq!(
        stats.spans_failed_export + stats.spans_dropped_queue_full,
        0,
        "{stats:?}"
    );
    assert_eq!(
        stats.spans_ended,
        stats.spans_exported + stats.spans_dropped_after_shutdown,
        "{stats:?}"
    );
    assert_eq!(stats.spans_exported as usize, store.len());
    assert_eq!(stats.flush_order, vec!["w2", "w1", "w0", "system"]);
}

#[tokio::test]
async fn per_actor_resources_and_modes() {
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
            "tracing-test"
        );
        assert!(request.resource_attribute("actor.name").is_none());
        match mode {
            PipelineMode::Shared => assert!(process.resource_attribute("actor.name").is_none()),
            _ => {
                assert_eq!(
                    process.resource_attribute("actor.name").unwrap().as_str(),
                    "worker"
                );
                assert_eq!(
                    process.resource_attribute("thread.name").unwrap().as_str(),
                    "worker"
                );
                assert_eq!(
                    process.resource_attribute("thread.id"),
                    process.attribute("thread.id").cloned()
                );
                assert_eq!(
                    process.resource_attribute("service.name").unwrap().as_str(),
                    "tracing-test"
                );
            }
        }
        assert_all_exported(&telemetry, &store);
    }
}

#[tokio::test]
async fn without_an_sdk_the_context_still_travels() {
    let system = ActorSystem::builder().build();
    let worker = system.spawn("worker", Worker::default).unwrap();
    let caller = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = Context::new()
        .with_remote_span_context(caller.clone())
        .with_baggage(vec![KeyValue::new("tenant", "acme")]);
    let (seen, tenant) = worker
        .ask(WhatContext)
        .with_context(cx.clone())
        .await
        .unwrap();
    assert_eq!(seen, caller);
    assert_eq!(tenant, "acme");
    // tell too: the handler replies through another ask, so check with a follow-up in order.
    let (seen, _) = worker.ask(WhatContext).await.unwrap();
    assert!(!seen.is_valid(), "no context leaks into the next message");
    system.shutdown().await;
}

// The B3 propagator ships in opentelemetry-zipkin, which is deprecated as a whole (its
// exporter); the propagator is what B3 users still use.
#[allow(deprecated)]
#[tokio::test]
async fn a_b3_propagator_carries_the_trace_too() {
    use opentelemetry_zipkin::{B3Encoding, Propagator as B3};
    let b3 = Arc::new(B3::with_encoding(B3Encoding::MultipleHeader));
    let options = TracingOptions {
        propagation: Propagation::Carrier(b3.clone()),
        ..TracingOptions::default()
    };
    let (system, telemetry, store) = traced_with(PipelineMode::PerActor, options);
    let worker = system.spawn("worker", Worker::default).unwrap();

    // In-process, through B3 headers in the envelope.
    let cx = root(&telemetry, "request");
    worker
        .ask(Work { awaits: 1, tag: 0 })
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();

    // From outside: B3 headers of another service continue in the actor.
    let headers: HashMap<String, String> = [
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-sampled", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let outside = extract_with(b3.as_ref(), &headers, &CarrierPolicy::default());
    worker
        .tell(Work { awaits: 0, tag: 1 })
        .with_context(outside)
        .await
        .unwrap();
    system.shutdown().await;

    let request = store.one("request");
    let processes = store.named("process worker");
    assert_eq!(processes.len(), 2);
    let from_request = processes
        .iter()
        .find(|p| p.trace_id() == request.trace_id())
        .unwrap();
    assert_child(from_request, &request);
    let send = store.one("send worker");
    assert_eq!(
        send.trace_id(),
        TraceId::from_hex("80f198ee56343ba864fe8b2a57d3eff7").unwrap()
    );
    assert_eq!(
        send.parent_span_id(),
        SpanId::from_hex("e457b5a2e4d86bd1").unwrap()
    );
    let continued = processes
        .iter()
        .find(|p| p.trace_id() == send.trace_id())
        .unwrap();
    assert_child(continued, &send);
    assert_all_exported(&telemetry, &store);
}
