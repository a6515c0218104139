//! Reliability (issue 6): under load, faults and a failing collector nothing is lost,
//! nothing hangs, nothing leaks. Counts are exact; no timing assertions.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actor_core::{
    Actor, ActorSystem, AskError, Ctx, Handler, MailboxSize, Message, SendError, StopReason,
    Supervision,
};
use actor_otel::testing::{Behaviour, OtlpReceiver, SpanStore};
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, PipelineMode, Telemetry};
use common::*;

/// Handles `Job`s, panicking on the ones marked to.
#[derive(Default)]
struct Flaky {
    handled: Arc<AtomicU64>,
}
impl Actor for Flaky {}

struct Job {
    id: u64,
    panic: bool,
}
impl Message for Job {
    type Reply = u64;
}
impl Handler<Job> for Flaky {
    async fn handle(&mut self, job: Job, _cx: &mut Ctx<Self>) -> u64 {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if job.panic {
            panic!("job {} failed", job.id);
        }
        job.id
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_under_load_every_ask_gets_an_answer() {
    let handled = Arc::new(AtomicU64::new(0));
    let system = ActorSystem::builder().build();
    let h = handled.clone();
    let flaky = system
        .actor("flaky")
        .supervision(Supervision::restart(10_000, Duration::from_secs(600)))
        .spawn(move || Flaky { handled: h.clone() })
        .unwrap();
    let askers: Vec<_> = (0..4u64)
        .map(|a| {
            let flaky = flaky.clone();
            tokio::spawn(async move {
                let (mut ok, mut panicked) = (0u64, 0u64);
                for i in 0..500u64 {
                    let id = a * 1_000 + i;
                    match flaky
                        .ask(Job {
                            id,
                            panic: i % 10 == 0,
                        })
                        .await
                    {
                        Ok(reply) => {
                            assert_eq!(reply, id);
                            ok += 1
                        }
                        Err(AskError::Panicked(text)) => {
                            assert!(text.contains(&format!("job {id} failed")), "{text}");
                            panicked += 1
                        }
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
                // Tells queued behind panics are not lost either.
                for _ in 0..100 {
                    flaky
                        .tell(Job {
                            id: 0,
                            panic: false,
                        })
                        .await
                        .unwrap();
                }
                (ok, panicked)
            })
        })
        .collect();
    let (mut ok, mut panicked) = (0, 0);
    for a in askers {
        let (o, p) = a.await.unwrap();
        ok += o;
        panicked += p;
    }
    assert_eq!((ok, panicked), (4 * 450, 4 * 50));
    let report = system.shutdown().await;
    let actor = &report.actors[0];
    assert_eq!(actor.restarts, 200);
    assert_eq!(actor.panics, 200);
    assert_eq!(actor.handled, 4 * 500 + 4 * 100);
    assert_eq!(handled.load(Ordering::Relaxed), 4 * 500 + 4 * 100);
    assert_eq!(actor.reason, StopReason::Requested);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_flood_returns_every_refused_message() {
    let store = SpanStore::new();
    let telemetry = Telemetry::builder()
        .exporter(Exporter::memory(&store))
        .global(false)
        // Room for every span of the flood (up to 48,000): this test is about loss at
        // shutdown, not about back-pressure (see the collector tests for that).
        .batch(BatchConfig {
            max_queue_size: 1 << 20,
            ..BatchConfig::default()
        })
        .build()
        .unwrap();
    let handled = Arc::new(AtomicU64::new(0));
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .mailbox(MailboxSize::Bounded(64))
        .build();
    let targets: Vec<_> = (0..2)
        .map(|i| {
            let h = handled.clone();
            system
                .spawn(format!("sink{i}"), move || Flaky { handled: h.clone() })
                .unwrap()
        })
        .collect();
    let producers: Vec<_> = (0..8u64)
        .map(|p| {
            let targets = targets.clone();
            tokio::spawn(async move {
                let (mut accepted, mut returned_sum, mut sent_sum) = (0u64, 0u64, 0u64);
                for i in 0..3_000u64 {
                    let id = p * 1_000_000 + i;
                    sent_sum += id;
                    match targets[(i % 2) as usize]
                        .tell(Job { id, panic: false })
                        .await
                    {
                        Ok(()) => accepted += 1,
                        Err(SendError::Closed(job)) => returned_sum += job.id,
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
                (accepted, returned_sum, sent_sum)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let report = system.shutdown().await;
    let (mut accepted, mut returned_sum, mut sent_sum, mut accepted_sum) = (0, 0, 0, 0);
    for p in producers {
        let (a, r, s) = p.await.unwrap();
        accepted += a;
        returned_sum += r;
        sent_sum += s;
        accepted_sum += s - r;
    }
    assert_eq!(
        report.handled(),
        accepted,
        "every accepted message was handled"
    );
    assert_eq!(handled.load(Ordering::Relaxed), accepted);
    assert_eq!(
        accepted_sum + returned_sum,
        sent_sum,
        "the rest came back, message by message"
    );
    assert!(report.all_in_time());
    let stats = telemetry.stats();
    let process_spans = store
        .spans()
        .iter()
        .filter(|s| s.name().starts_with("process "))
        .count();
    assert_eq!(
        process_spans as u64, accepted,
        "one exported span per handled message"
    );
    assert_eq!(
        stats.spans_failed_export + stats.spans_dropped_queue_full,
        0,
        "{stats:?}"
    );
    assert_eq!(stats.spans_exported as usize, store.len());
}

/// Blocks its thread until the test lets it go.
struct Stuck;
impl Actor for Stuck {}
impl Handler<Gate> for Stuck {
    async fn handle(&mut self, gate: Gate, _cx: &mut Ctx<Self>) {
        let _ = gate.0.lock().unwrap().recv();
    }
}

#[tokio::test]
async fn a_handler_that_never_returns_does_not_stop_the_others() {
    let store = SpanStore::new();
    let telemetry = Telemetry::builder()
        .exporter(Exporter::memory(&store))
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .stop_timeout(Duration::from_millis(300))
        .build();
    let before = system.spawn("before", Probe::default).unwrap();
    let stuck = system.spawn("stuck", || Stuck).unwrap();
    let after = system.spawn("after", Probe::default).unwrap();
    let (gate, key) = Gate::new();
    stuck.tell(gate).await.unwrap();
    before.tell(Push(1)).await.unwrap();
    after.tell(Push(2)).await.unwrap();
    let report = system.shutdown().await;
    assert_eq!(report.order(), vec!["after", "stuck", "before"]);
    let by_name = |n: &str| report.actors.iter().find(|a| a.name == n).unwrap();
    assert!(!by_name("stuck").stopped_in_time);
    assert_eq!(by_name("stuck").reason, StopReason::DeadlineExceeded);
    assert!(by_name("before").stopped_in_time && by_name("after").stopped_in_time);
    assert_eq!(by_name("before").handled + by_name("after").handled, 2);
    // The others' pipelines were flushed; the system's too.
    assert_eq!(
        telemetry.stats().flush_order,
        vec!["after", "before", "system"]
    );
    assert_eq!(store.named("process before").len(), 1);
    assert_eq!(store.named("process after").len(), 1);
    drop(key);
}

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
    }
    assert!(receiver_fail.requests() > 0);
    assert!(receiver_stall.requests() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_collector_costs_shutdown_one_flush_timeout_not_one_per_actor() {
    let receiver = OtlpReceiver::grpc().unwrap();
    receiver.set_behaviour(Behaviour::Stall(Duration::from_secs(3_600)));
    let telemetry = Telemetry::builder()
        .exporter(Exporter::otlp(
            OtlpProtocol::Grpc,
            Some(receiver.endpoint().to_owned()),
        ))
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
