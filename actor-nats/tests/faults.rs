//! Faults against a real nats-server: a restart mid-run, tells during the outage (buffered
//! or refused), a payload over the server's limit, a slow consumer.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_core::ActorSystem;
use actor_nats::{Outage, RemoteAskError, RemoteSendError};
use common::{connect, counter, options, server, server_with, Add, Wait};

/// Polls `cond` every 10 ms for up to `limit`.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_fails_asks_in_time_then_calls_work_again() {
    let mut server = server();
    let serving_side = connect(&server).await;
    let caller = connect(&server).await;
    let system = ActorSystem::builder().name("restart").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let _serving = serving_side
        .serve("svc.restart")
        .handle(actor.recipient::<Add>())
        .start()
        .await
        .unwrap();
    let remote = caller.recipient::<Add>("svc.restart");
    let refusing = caller
        .recipient::<Add>("svc.restart")
        .outage(Outage::Refuse);
    assert_eq!(remote.ask(Add(1)).await.unwrap(), 1);

    assert!(server.pid().is_some(), "a running server has a process");
    server.stop();
    assert_eq!(server.pid(), None, "a stopped server has none");
    assert!(eventually(Duration::from_secs(5), || !caller.is_connected()).await);
    // During the outage every ask ends within its timeout with a typed error.
    let limit = Duration::from_millis(300);
    for i in 0..5 {
        let started = Instant::now();
        let err = remote.ask(Add(i)).timeout(limit).await.unwrap_err();
        assert!(
            started.elapsed() < limit + Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(
                err,
                RemoteAskError::Timeout(_) | RemoteAskError::Transport(_)
            ),
            "{err:?}"
        );
        // Refusing recipients fail at once, message back.
        match refusing.ask(Add(100 + i)).await {
            Err(RemoteAskError::Send(RemoteSendError::Disconnected(Add(n)))) => {
                assert_eq!(n, 100 + i)
            }
            other => panic!("expected Disconnected, got {other:?}"),
        }
        match refusing.tell(Add(200 + i)).await {
            Err(RemoteSendError::Disconnected(Add(n))) => assert_eq!(n, 200 + i),
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }
    // Buffered tells during the outage: taken by the client, sent after the reconnect.
    for _ in 0..3 {
        remote.tell(Add(1000)).await.unwrap();
    }

    server.restart().unwrap();
    assert!(
        server.pid().is_some(),
        "a restarted server has a process again"
    );
    assert!(
        eventually(Duration::from_secs(10), || caller.is_connected()
            && serving_side.is_connected())
        .await
    );
    // Calls work again (the serving side resubscribed by itself).
    let mut answer = None;
    for _ in 0..50 {
        match remote.ask(Add(0)).timeout(Duration::from_millis(500)).await {
            Ok(total) => {
                answer = Some(total);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let total = answer.expect("calls work again after the restart");
    // At most once: the asks that timed out during the outage may or may not have been
    // handled after the reconnect (they were queued); none was handled twice, and the
    // refused ones never.
    assert!((1..=1 + 10 + 3000).contains(&total), "{total}");
    assert_eq!(total % 1000 / 100, 0, "a refused message was sent: {total}");
    assert!(caller.stats().reconnects >= 1);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tells_during_an_outage_are_buffered_up_to_the_limit_then_handed_back() {
    let mut server = server();
    let nats = options(&server).client_capacity(8).connect().await.unwrap();
    let remote = nats
        .recipient::<Add>("svc.buffer")
        .send_timeout(Duration::from_millis(100));
    server.stop();
    assert!(eventually(Duration::from_secs(5), || !nats.is_connected()).await);
    let mut taken = 0;
    let mut back = Vec::new();
    for i in 0..40 {
        match remote.tell(Add(i)).await {
            Ok(()) => taken += 1,
            Err(RemoteSendError::Timeout(Add(n))) => back.push(n),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!((1..=8 + 2).contains(&taken), "taken {taken}");
    assert_eq!(
        taken + back.len(),
        40,
        "every tell was taken or handed back"
    );
    assert_eq!(back.last(), Some(&39));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_over_max_payload_is_refused_before_sending() {
    let server = server_with("max_payload: 2048");
    let nats = connect(&server).await;
    assert_eq!(nats.max_payload(), 2048);
    let system = ActorSystem::builder().name("payload").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system.spawn("counter", counter(&seen)).unwrap();
    let serving = nats
        .serve("svc.big")
        .handle(actor.recipient::<Big>())
        .start()
        .await
        .unwrap();
    let remote = nats.recipient::<Big>("svc.big");
    let out_before = nats.stats().out_messages;
    match remote.ask(Big("x".repeat(4000))).await {
        Err(RemoteAskError::Send(RemoteSendError::TooLarge { message, size, max })) => {
            assert_eq!(message.0.len(), 4000);
            assert!(size > 4000 && max == 2048, "{size} {max}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    match remote.tell(Big("y".repeat(3000))).await {
        Err(RemoteSendError::TooLarge { message, .. }) => assert_eq!(message.0.len(), 3000),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(nats.stats().out_messages, out_before, "nothing was sent");
    // The connection was not closed by the server: a small message still goes through.
    assert_eq!(remote.ask(Big("ok".into())).await.unwrap(), 2);
    assert_eq!(serving.stats().received, 1);
    assert_eq!(nats.stats().disconnects, 0);
    system.shutdown().await;
}

/// A send refused before it left (over `max_payload`) ends its `send` span with status
/// Error and the reason, as an SDK span and as a compact record alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_ends_its_span_with_the_reason() {
    use actor_otel::testing::OtlpReceiver;
    use opentelemetry::global::BoxedTracer;

    let server = server_with("max_payload: 2048");
    for records in [false, true] {
        let receiver = OtlpReceiver::http().unwrap();
        let telemetry = common::telemetry_to(&receiver, "refused-send");
        let mut caller =
            options(&server).tracer(BoxedTracer::new(Box::new(telemetry.tracer("actor-nats"))));
        if records {
            use actor_core::trace::Instrumentation as _;
            caller = caller.recorder(telemetry.system_recorder().expect("records are on"));
        }
        let nats = caller.connect().await.unwrap();
        let remote = nats.recipient::<Big>("svc.refused");
        match remote.tell(Big("y".repeat(3000))).await {
            Err(RemoteSendError::TooLarge { .. }) => {}
            other => panic!("expected TooLarge, got {other:?}"),
        }
        telemetry.shutdown().unwrap();
        assert!(receiver.wait_for(1, Duration::from_secs(10)));
        let spans = receiver.spans();
        let send = spans
            .iter()
            .find(|s| s.name() == "send svc.refused")
            .unwrap_or_else(|| panic!("no send span (records: {records}): {spans:?}"));
        let status = send.span.status.clone().expect("a status");
        assert_eq!(status.code, 2, "Error (records: {records})");
        assert_eq!(status.message, "message over max_payload");
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Big(String);
impl actor_core::Message for Big {
    type Reply = u64;
}
impl actor_core::Handler<Big> for common::Counter {
    async fn handle(&mut self, Big(s): Big, _cx: &mut actor_core::Ctx<Self>) -> u64 {
        self.seen.fetch_add(1, Ordering::SeqCst);
        s.len() as u64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_keeps_memory_bounded_and_drops_are_counted() {
    let server = server();
    // The serving side buffers at most 64 messages in the client, 4 in flight to the actor.
    let serving_side = options(&server)
        .subscription_capacity(64)
        .connect()
        .await
        .unwrap();
    let caller = connect(&server).await;
    let system = ActorSystem::builder().name("slow").build();
    let seen = Arc::new(AtomicU64::new(0));
    let actor = system
        .actor("slow")
        .mailbox(actor_core::MailboxSize::Bounded(2))
        .spawn(counter(&seen))
        .unwrap();
    let serving = serving_side
        .serve("svc.slow")
        .max_in_flight(4)
        .handle(actor.recipient::<Wait>())
        .start()
        .await
        .unwrap();
    // A message per tell: the flood is 3,000 NATS messages however busy the machine is
    // (batched tells that queue up share a message, and a busy caller makes fewer, larger
    // batches: too few messages to fill the client's buffer).
    let remote = caller.recipient::<Wait>("svc.slow").batching(false);
    let sent = 3_000u64;
    for _ in 0..sent {
        remote.tell(Wait(2)).await.unwrap();
    }
    assert!(caller.flush(Duration::from_secs(5)).await);
    // The actor needs 2 ms a message: most of the flood cannot be held. What is held is
    // bounded: at most 4 in flight (besides the 2-place mailbox and the client's 64).
    let stats = serving.stats();
    assert!(stats.peak_in_flight <= 4, "{stats:?}");
    assert!(
        eventually(Duration::from_secs(10), || serving_side
            .stats()
            .slow_consumer_events
            >= 1)
        .await,
        "the client reported the slow consumer"
    );
    // Everything received ends up handled (nothing held without bound, nothing stuck).
    assert!(
        eventually(Duration::from_secs(20), || {
            let s = serving.stats();
            s.in_flight == 0 && s.handled == s.received
        })
        .await,
        "{:?}",
        serving.stats()
    );
    // Stop serving (what the client still holds is served first), so nothing arrives after
    // the count: the loop hands tells over one by one, and between two of them nothing is
    // in flight even while more wait in the client.
    let stats = serving.stop().await;
    assert!(
        stats.received < sent,
        "the client dropped part of the flood: {stats:?}"
    );
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.handled, stats.received);
    // A handled tell is one put in the mailbox; shutdown drains it.
    system.shutdown().await;
    assert_eq!(seen.load(Ordering::SeqCst), stats.handled);
}
