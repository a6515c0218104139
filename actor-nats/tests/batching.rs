//! Tells that queue up behind each other go as one batch message, each with its own trace
//! headers; a lone tell stays an ordinary message; one connection keeps its order across
//! batches, asks and unbatched tells; a malformed batch loses only what cannot be read.
//! Against a real nats-server.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message};
use actor_nats::async_nats;
use actor_nats::headers::{BATCH, MESSAGE_TYPE};
use actor_otel::testing::OtlpReceiver;
use actor_otel::{Exporter, Telemetry};
use futures::StreamExt as _;
use opentelemetry::context::FutureExt as _;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::Context;
use serde::{Deserialize, Serialize};

use common::{connect, options, server};

#[derive(Debug, Serialize, Deserialize)]
struct Push(u64);
impl Message for Push {
    type Reply = ();
}

#[derive(Debug, Serialize, Deserialize)]
struct Seen;
impl Message for Seen {
    type Reply = Vec<u64>;
}

/// Records the order in which pushes arrive.
struct Log(Arc<Mutex<Vec<u64>>>);
impl Actor for Log {}
impl Handler<Push> for Log {
    async fn handle(&mut self, Push(n): Push, _cx: &mut Ctx<Self>) {
        self.0.lock().unwrap().push(n);
    }
}
impl Handler<Seen> for Log {
    async fn handle(&mut self, _: Seen, _cx: &mut Ctx<Self>) -> Vec<u64> {
        self.0.lock().unwrap().clone()
    }
}

/// `seen` is `0..count`: all, once, in order (else where it first went wrong).
fn assert_in_order(seen: &[u64], count: u64) {
    if let Some(at) = (0..count).zip(seen).position(|(want, got)| want != *got) {
        panic!(
            "out of order at {at}: {:?}",
            &seen[at.saturating_sub(2)..(at + 3).min(seen.len())]
        );
    }
    assert_eq!(seen.len() as u64, count, "all, once");
}

async fn serve_log(
    nats: &actor_nats::Nats,
    system: &ActorSystem,
    subject: &str,
) -> (actor_nats::Serving, Arc<Mutex<Vec<u64>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = {
        let seen = seen.clone();
        system
            .spawn(subject.to_owned(), move || Log(seen.clone()))
            .unwrap()
    };
    let serving = nats
        .serve(subject)
        .handle(log.recipient::<Push>())
        .handle(log.recipient::<Seen>())
        .start()
        .await
        .unwrap();
    (serving, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tells_that_queue_up_go_as_batches_in_order_and_each_is_handled_once() {
    let server = server();
    let nats = connect(&server).await;
    let system = ActorSystem::builder().name("batches").build();
    let (serving, _) = serve_log(&nats, &system, "svc.log").await;

    let caller = connect(&server).await;
    let remote = caller.recipient::<Push>("svc.log");
    let out_before = caller.stats().out_messages;
    for n in 0..5_000 {
        remote.tell(Push(n)).await.unwrap();
    }
    // The ask goes after every tell queued before it on this connection.
    let seen = caller.recipient::<Seen>("svc.log").ask(Seen).await.unwrap();
    assert_in_order(&seen, 5_000);

    let stats = caller.stats();
    assert!(stats.batches_sent > 0, "{stats:?}");
    let sent = stats.out_messages - out_before;
    assert!(sent < 5_000 / 2, "5,000 tells took {sent} NATS messages");
    assert_eq!(stats.tells_lost, 0);
    let served = serving.stats();
    assert_eq!((served.received, served.handled), (5_001, 5_001));
    assert_eq!(served.undecodable, 0);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_holds_across_recipients_unbatched_tells_and_asks_on_one_connection() {
    let server = server();
    let nats = connect(&server).await;
    let system = ActorSystem::builder().name("order").build();
    let (_serving, seen) = serve_log(&nats, &system, "svc.order").await;

    let caller = connect(&server).await;
    let json = caller.recipient::<Push>("svc.order");
    let binary = caller
        .recipient::<Push>("svc.order")
        .codec(actor_nats::Codec::Postcard);
    let unbatched = caller.recipient::<Push>("svc.order").batching(false);
    for n in 0..3_000 {
        match n % 3 {
            0 => json.tell(Push(n)).await.unwrap(),
            1 => binary.tell(Push(n)).await.unwrap(),
            _ => unbatched.tell(Push(n)).await.unwrap(),
        }
    }
    assert!(caller.flush(Duration::from_secs(5)).await);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 3_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_in_order(&seen.lock().unwrap(), 3_000);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_tell_is_an_ordinary_message_with_its_trace_in_the_nats_headers() {
    let server = server();
    let snoop = connect(&server).await;
    let mut wire = snoop.client().subscribe("svc.snoop").await.unwrap();
    snoop.client().flush().await.unwrap();

    let caller = options(&server)
        .tracer(BoxedTracer::new(Box::new(
            opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .build()
                .tracer("test"),
        )))
        .connect()
        .await
        .unwrap();
    caller
        .recipient::<Push>("svc.snoop")
        .tell(Push(7))
        .await
        .unwrap();
    assert!(caller.flush(Duration::from_secs(5)).await);
    let message = tokio::time::timeout(Duration::from_secs(5), wire.next())
        .await
        .unwrap()
        .unwrap();
    let headers = message.headers.expect("headers");
    assert!(headers.get(BATCH).is_none(), "a lone tell is not a batch");
    assert_eq!(headers.get(MESSAGE_TYPE).unwrap().as_str(), "Push");
    assert!(
        headers.get("traceparent").is_some(),
        "its trace in the NATS headers"
    );
    assert_eq!(&message.payload[..], b"7");
    // Unbatched tells are ordinary messages however fast they come.
    let unbatched = caller.recipient::<Push>("svc.snoop").batching(false);
    for n in 0..200 {
        unbatched.tell(Push(n)).await.unwrap();
    }
    assert!(caller.flush(Duration::from_secs(5)).await);
    for _ in 0..200 {
        let message = tokio::time::timeout(Duration::from_secs(5), wire.next())
            .await
            .unwrap()
            .unwrap();
        assert!(message.headers.unwrap().get(BATCH).is_none());
    }
    assert_eq!(caller.stats().batches_sent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_batch_is_counted_and_the_frames_before_it_are_served() {
    let server = server();
    let nats = connect(&server).await;
    let system = ActorSystem::builder().name("malformed").build();
    let (serving, seen) = serve_log(&nats, &system, "svc.malformed").await;

    // One whole frame (no headers, body `1`), then a frame whose length overruns the body.
    let mut body = Vec::new();
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(b"1");
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend_from_slice(&1000u32.to_be_bytes());
    body.extend_from_slice(b"22");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MESSAGE_TYPE, "Push");
    headers.insert(BATCH, "3");
    nats.client()
        .publish_with_headers("svc.malformed", headers, body.into())
        .await
        .unwrap();
    // A batch whose count is not a number: one undecodable message.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MESSAGE_TYPE, "Push");
    headers.insert(BATCH, "many");
    nats.client()
        .publish_with_headers("svc.malformed", headers, "x".into())
        .await
        .unwrap();
    // The serving side is still well: an ask after them is answered.
    let after = nats
        .recipient::<Seen>("svc.malformed")
        .ask(Seen)
        .await
        .unwrap();
    assert_eq!(after, [1]);
    assert_eq!(*seen.lock().unwrap(), [1]);
    let stats = serving.stats();
    assert_eq!(stats.handled, 2, "the whole frame and the ask: {stats:?}");
    assert_eq!(
        stats.undecodable, 3,
        "the broken frame, the one after it, the bad count"
    );
    assert_eq!(stats.received, 5);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tell_of_a_batch_keeps_its_own_trace() {
    each_tell_keeps_its_own_trace(false).await;
}

/// The same with the callers' `send` spans as compact records
/// (`NatsOptions::recorder`): the same edges and attributes on the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tell_of_a_batch_keeps_its_own_trace_with_send_records() {
    each_tell_keeps_its_own_trace(true).await;
}

async fn each_tell_keeps_its_own_trace(records: bool) {
    let server = server();
    let receiver = OtlpReceiver::http().unwrap();
    let telemetry = common::telemetry_to(&receiver, "nats-batches");
    let system = ActorSystem::builder()
        .name("nats-batches")
        .instrumentation(telemetry.clone())
        .build();
    let nats = connect(&server).await;
    let (_serving, seen) = serve_log(&nats, &system, "svc.traced").await;
    let mut caller_options =
        options(&server).tracer(BoxedTracer::new(Box::new(telemetry.tracer("actor-nats"))));
    if records {
        use actor_core::trace::Instrumentation as _;
        let recorder = telemetry
            .system_recorder()
            .expect("records are on by default");
        caller_options = caller_options.recorder(recorder);
    }
    let caller = caller_options.connect().await.unwrap();
    let remote = caller.recipient::<Push>("svc.traced");

    const TELLS: u64 = 300;
    let tracer = telemetry.tracer("client");
    for n in 0..TELLS {
        // Each tell in a trace of its own.
        let cx = Context::current_with_span(tracer.start(format!("request {n}")));
        remote.tell(Push(n)).with_context(cx.clone()).await.unwrap();
        cx.span().end();
    }
    assert!(caller.flush(Duration::from_secs(5)).await);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (seen.lock().unwrap().len() as u64) < TELLS && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(caller.stats().batches_sent > 0, "the tells went in batches");
    system.shutdown().await;
    telemetry.shutdown().unwrap();
    // A request, a send and a process span per tell.
    assert!(receiver.wait_for(3 * TELLS as usize, Duration::from_secs(10)));
    let spans = receiver.spans();
    let mut batched = 0;
    for n in 0..TELLS {
        let request = spans
            .iter()
            .find(|s| s.name() == format!("request {n}"))
            .expect("request span");
        let send = spans
            .iter()
            .find(|s| s.name() == "send svc.traced" && s.parent_span_id() == request.span_id())
            .unwrap_or_else(|| panic!("no send span under request {n}"));
        let body_size = n.to_string().len().to_string();
        for (key, value) in [
            ("messaging.system", "nats"),
            ("messaging.destination.name", "svc.traced"),
            ("messaging.operation.type", "send"),
            ("messaging.operation.name", "send"),
            ("messaging.message.body.size", body_size.as_str()),
        ] {
            assert_eq!(
                send.attribute(key).as_deref(),
                Some(value),
                "send {n}: {key}"
            );
        }
        let process: Vec<_> = spans
            .iter()
            .filter(|s| s.name() == "process svc.traced" && s.parent_span_id() == send.span_id())
            .collect();
        assert_eq!(process.len(), 1, "one process span under send {n}");
        let process = process[0];
        assert_eq!(
            process.trace_id(),
            request.trace_id(),
            "tell {n}: one trace"
        );
        assert_eq!(
            process.attribute("messaging.system").as_deref(),
            Some("nats")
        );
        assert_eq!(
            process.attribute("messaging.message.body.size").as_deref(),
            Some(n.to_string().len().to_string().as_str())
        );
        if let Some(count) = process.attribute("messaging.batch.message_count") {
            assert!(count.parse::<u64>().unwrap() > 1);
            batched += 1;
        }
    }
    assert!(batched > 0, "some process spans say they came in a batch");
    let processes = spans
        .iter()
        .filter(|s| s.name() == "process svc.traced")
        .count();
    assert_eq!(processes as u64, TELLS, "created == exported, none twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outbox_hands_the_tell_back_after_its_timeout_and_loses_nothing() {
    let server = server();
    let serving_side = connect(&server).await;
    let system = ActorSystem::builder().name("full").build();
    let (_serving, seen) = serve_log(&serving_side, &system, "svc.full").await;

    // The caller's connection runs on a runtime of its own thread, which the test can
    // stall: while it is stalled, nothing flushes the outbox.
    let url = server.url();
    let (nats_tx, nats_rx) = std::sync::mpsc::channel();
    let (stall_tx, stall_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (end_tx, end_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let nats = actor_nats::NatsOptions::new(url).connect().await.unwrap();
            nats_tx.send(nats).unwrap();
            stall_rx.recv().unwrap();
            // Stalls the connection's runtime until the test releases it.
            release_rx.recv().unwrap();
            let _ = end_rx.await;
        });
    });
    let caller = nats_rx.recv().unwrap();
    stall_tx.send(()).unwrap();
    let remote = caller
        .recipient::<Push>("svc.full")
        .send_timeout(Duration::from_millis(200));
    let mut taken = 0u64;
    let refused = loop {
        match remote.tell(Push(taken)).await {
            Ok(()) => taken += 1,
            Err(actor_nats::RemoteSendError::Timeout(Push(n))) => break n,
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert!(taken <= 5_000, "the outbox never filled up");
    };
    assert_eq!(taken, 1_024, "the outbox holds 1,024 tells");
    assert_eq!(refused, 1_024, "the refused tell comes back");

    release_tx.send(()).unwrap();
    assert!(caller.flush(Duration::from_secs(5)).await);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (seen.lock().unwrap().len() as u64) < taken && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_in_order(&seen.lock().unwrap(), taken);
    assert_eq!(caller.stats().tells_lost, 0);
    drop(caller);
    let _ = end_tx.send(());
    thread.join().unwrap();
    system.shutdown().await;
}

/// What the serving actor saw of each push: its trace id, trace state and baggage.
type Observed = Arc<Mutex<Vec<(u64, opentelemetry::trace::TraceId, String, Option<String>)>>>;

/// Records, per push, the context its handler runs in.
struct Probe(Observed);
impl Actor for Probe {}
impl Handler<Push> for Probe {
    async fn handle(&mut self, Push(n): Push, _cx: &mut Ctx<Self>) {
        use opentelemetry::baggage::BaggageExt as _;
        let cx = Context::current();
        let span = cx.span();
        let sc = span.span_context();
        let tenant = cx.baggage().get("tenant").map(|v| v.to_string());
        self.0
            .lock()
            .unwrap()
            .push((n, sc.trace_id(), sc.trace_state().header(), tenant));
    }
}

/// A `Probe` in a system of its own, instrumented (compact `process` records, spans
/// dropped), served on `subject`.
async fn serve_probe(
    server: &actor_nats::testing::NatsServer,
    name: &str,
    subject: &str,
) -> (Telemetry, ActorSystem, actor_nats::Serving, Observed) {
    let telemetry = Telemetry::builder()
        .service_name(name)
        .exporter(Exporter::noop())
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .name(name)
        .instrumentation(telemetry.clone())
        .build();
    let observed = Observed::default();
    let probe = {
        let observed = observed.clone();
        system
            .spawn("probe", move || Probe(observed.clone()))
            .unwrap()
    };
    let serving = connect(server)
        .await
        .serve(subject)
        .handle(probe.recipient::<Push>())
        .start()
        .await
        .unwrap();
    (telemetry, system, serving, observed)
}

/// Batched tells with `send` records: each carries its caller's trace state, and the
/// caller's baggage when it has some (a tell with baggage and one without, in turns, in
/// the same batches), to the serving actor's handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_tell_carries_its_callers_trace_state_and_baggage() {
    use actor_core::trace::Instrumentation as _;
    use opentelemetry::baggage::BaggageExt as _;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry::KeyValue;

    let server = server();
    let (telemetry, system, _serving, observed) =
        serve_probe(&server, "nats-batch-state", "svc.state").await;
    let caller = options(&server)
        .recorder(telemetry.system_recorder().expect("records are on"))
        .connect()
        .await
        .unwrap();
    let remote = caller.recipient::<Push>("svc.state");
    const TELLS: u64 = 400;
    let trace_of = |n: u64| TraceId::from(u128::from(n) + 1);
    for n in 0..TELLS {
        let state = TraceState::from_key_value([("vendor", format!("v{n}"))]).unwrap();
        let parent = SpanContext::new(
            trace_of(n),
            SpanId::from(n + 1),
            TraceFlags::SAMPLED,
            true,
            state,
        );
        let mut cx = Context::new().with_remote_span_context(parent);
        if n % 2 == 0 {
            cx = cx.with_baggage([KeyValue::new("tenant", format!("t{n}"))]);
        }
        remote.tell(Push(n)).with_context(cx).await.unwrap();
    }
    assert!(caller.flush(Duration::from_secs(5)).await);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (observed.lock().unwrap().len() as u64) < TELLS && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(caller.stats().batches_sent > 0, "the tells went in batches");
    let observed = observed.lock().unwrap().clone();
    assert_eq!(observed.len() as u64, TELLS, "every tell handled");
    for (n, trace_id, state, tenant) in observed {
        assert_eq!(trace_id, trace_of(n), "push {n}: the caller's trace");
        assert_eq!(state, format!("vendor=v{n}"), "push {n}: its trace state");
        let want = (n % 2 == 0).then(|| format!("t{n}"));
        assert_eq!(tenant, want, "push {n}: its baggage");
    }
    system.shutdown().await;
    telemetry.shutdown().unwrap();
}

/// A batch longer than the serving side reads at a time (its frames' contexts are read a
/// chunk at a time), each frame with a lone `traceparent`, to an actor that makes
/// `process` records: every push is handled once, in order, in its own caller's trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_of_a_long_batch_is_handled_in_its_own_trace() {
    use opentelemetry::trace::TraceId;

    let server = server();
    let (telemetry, system, _serving, observed) =
        serve_probe(&server, "nats-long-batch", "svc.long").await;
    let nats = connect(&server).await;

    const FRAMES: u64 = 100;
    let trace_of = |n: u64| TraceId::from(u128::from(n) + 1);
    let mut body = Vec::new();
    for n in 0..FRAMES {
        let headers = format!("traceparent: 00-{}-{:016x}-01\r\n", trace_of(n), n + 1);
        let message = n.to_string();
        // A frame: the header block's length and the block, the body's length and the body.
        body.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        body.extend_from_slice(headers.as_bytes());
        body.extend_from_slice(&(message.len() as u32).to_be_bytes());
        body.extend_from_slice(message.as_bytes());
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MESSAGE_TYPE, "Push");
    headers.insert(BATCH, FRAMES.to_string().as_str());
    nats.client()
        .publish_with_headers("svc.long", headers, body.into())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (observed.lock().unwrap().len() as u64) < FRAMES && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let observed = observed.lock().unwrap().clone();
    let order: Vec<u64> = observed.iter().map(|(n, ..)| *n).collect();
    assert_in_order(&order, FRAMES);
    for (n, trace_id, ..) in observed {
        assert_eq!(trace_id, trace_of(n), "push {n}: its caller's trace");
    }
    system.shutdown().await;
    telemetry.shutdown().unwrap();
}
