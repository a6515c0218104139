//! The trace crosses NATS: the caller's span → its PRODUCER `send <subject>` span (headers)
//! → the serving actor's CONSUMER `process <actor>` span, its child and linked to it, with
//! `messaging.system = "nats"`, the subject and the body size; spans the handler's own sends
//! cause are actor-core messages again; a hostile `traceparent` is not adopted; resources
//! carry `process.pid` and `service.instance.id`. One test in this binary: it installs the
//! global tracer provider (where callers' `send` spans go).

mod common;

use std::time::Duration;

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, Message};
use actor_otel::testing::{OtlpReceiver, ReceivedSpan};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Lookup(u64);
impl Message for Lookup {
    type Reply = u64;
}

/// Answers by asking the store: its own send is an in-process message.
struct Front {
    store: ActorRef<Store>,
}
impl Actor for Front {}
impl Handler<Lookup> for Front {
    async fn handle(&mut self, Lookup(n): Lookup, _cx: &mut Ctx<Self>) -> u64 {
        self.store.ask(Lookup(n)).await.unwrap_or(0)
    }
}

struct Store;
impl Actor for Store {}
impl Handler<Lookup> for Store {
    async fn handle(&mut self, Lookup(n): Lookup, _cx: &mut Ctx<Self>) -> u64 {
        n * 2
    }
}

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.name() == name).collect()
}

const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_span_is_the_child_of_the_remote_send_span_and_says_nats() {
    let server = common::server();
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = common::exporting_to(&receiver, "nats-trace")
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .name("nats-trace")
        .instrumentation(telemetry.clone())
        .build();
    let store = system.spawn("store", || Store).unwrap();
    let front = system
        .spawn("front", move || Front {
            store: store.clone(),
        })
        .unwrap();
    let nats = common::connect(&server).await;
    let _serving = nats
        .serve("svc.lookup")
        .queue_group("lookups")
        .handle(front.recipient::<Lookup>())
        .start()
        .await
        .unwrap();

    let remote = nats.recipient::<Lookup>("svc.lookup");
    let cx = Context::current_with_span(telemetry.tracer("client").start("request"));
    assert_eq!(
        remote
            .ask(Lookup(21))
            .with_context(cx.clone())
            .await
            .unwrap(),
        42
    );
    remote
        .tell(Lookup(1))
        .with_context(cx.clone())
        .await
        .unwrap();
    cx.span().end();
    // A hostile traceparent (short ids the SDK would pad) is not adopted: a fresh trace.
    let mut headers = actor_nats::async_nats::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-f067aa0ba902b7-01",
    );
    headers.insert(actor_nats::headers::MESSAGE_TYPE, "Lookup");
    nats.client()
        .request_with_headers("svc.lookup", headers, "5".into())
        .await
        .unwrap();

    system.shutdown().await;
    telemetry.shutdown().unwrap();
    // request, 2 sends, 3 front + 3 store process spans (and the store's own sends).
    assert!(receiver.wait_for(9, Duration::from_secs(10)));
    let spans = receiver.spans();

    let request = find(&spans, "request")[0];
    let sends = find(&spans, "send svc.lookup");
    assert_eq!(sends.len(), 2, "one per tell and ask");
    let front_spans = find(&spans, "process front");
    assert_eq!(front_spans.len(), 3);
    for send in &sends {
        assert_eq!(send.span.kind, PRODUCER);
        assert_eq!(send.parent_span_id(), request.span_id());
        assert_eq!(send.attribute("messaging.system").as_deref(), Some("nats"));
        assert_eq!(
            send.attribute("messaging.destination.name").as_deref(),
            Some("svc.lookup")
        );
        let process = front_spans
            .iter()
            .find(|p| p.parent_span_id() == send.span_id())
            .expect("a process span under each send span");
        assert_eq!(process.trace_id(), request.trace_id());
        assert_eq!(process.span.kind, CONSUMER);
        assert!(
            process
                .span
                .links
                .iter()
                .any(|l| l.span_id == send.span.span_id),
            "linked to the send span"
        );
        assert_eq!(
            process.attribute("messaging.system").as_deref(),
            Some("nats")
        );
        assert_eq!(
            process.attribute("messaging.destination.name").as_deref(),
            Some("svc.lookup")
        );
        assert_eq!(
            process
                .attribute("messaging.consumer.group.name")
                .as_deref(),
            Some("lookups")
        );
        let body = process.attribute("messaging.message.body.size").unwrap();
        assert!(body == "2" || body == "1", "{body}");
        // The handler's own ask to the store is an in-process message again.
        let store = spans
            .iter()
            .find(|s| s.name() == "process store" && s.trace_id() == request.trace_id())
            .expect("the store's process span in the same trace");
        assert_eq!(
            store.attribute("messaging.system").as_deref(),
            Some("actor-core")
        );
    }
    // The hostile one started a fresh trace.
    let hostile = front_spans
        .iter()
        .find(|p| p.trace_id() != request.trace_id())
        .expect("the third message");
    assert!(hostile.parent_span_id().is_empty(), "no adopted parent");
    assert_ne!(hostile.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");

    // Resources tell the process apart.
    let pid = std::process::id().to_string();
    for span in [request, front_spans[0]] {
        assert_eq!(span.resource.get("process.pid"), Some(&pid));
        assert!(span
            .resource
            .get("service.instance.id")
            .is_some_and(|id| id.len() == 36));
    }
    assert_eq!(
        request.resource.get("service.instance.id"),
        front_spans[0].resource.get("service.instance.id"),
        "one instance id per process telemetry"
    );
}
