//! Spans a handler makes through `opentelemetry::global` join the sender's trace too.
//! (Its own test binary: it installs the process-wide tracer provider.)

use std::time::Duration;

use actor_core::trace::GlobalInstrumentation;
use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_otel::testing::SpanStore;
use actor_otel::{BatchConfig, Exporter, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer};
use opentelemetry::{global, Context};

struct Worker;
impl Actor for Worker {}
struct Job;
impl Message for Job {
    type Reply = ();
}
impl Handler<Job> for Worker {
    async fn handle(&mut self, _: Job, _cx: &mut Ctx<Self>) {
        tokio::time::sleep(Duration::from_millis(1)).await;
        global::tracer("app").start("via-global").end();
    }
}

#[tokio::test]
async fn global_tracer_spans_in_handlers_are_children() {
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
    let worker = system.spawn("worker", || Worker).unwrap();
    let cx = Context::current_with_span(global::tracer("caller").start("request"));
    worker.ask(Job).with_context(cx.clone()).await.unwrap();
    cx.span().end();
    system.shutdown().await;
    let request = store.one("request");
    let process = store.one("process worker");
    let via_global = store.one("via-global");
    assert!(process.is_child_of(&request));
    assert!(via_global.is_child_of(&process));
    // The global provider is the system's pipeline: no actor resource on that span.
    assert!(via_global.resource_attribute("actor.name").is_none());
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
    let worker = system.spawn("worker", || Worker).unwrap();
    let cx = Context::current_with_span(global::tracer("caller").start("request"));
    worker.tell(Job).with_context(cx.clone()).await.unwrap();
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
