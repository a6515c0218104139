//! The life of actors and their system: supervision (panics answered, restarts with the
//! mailbox intact, giving up at the limit), starts that fail, stops, shutdown (drained
//! mailboxes, the stop order, refused messages handed back, one deadline however many
//! actors are stuck), the shutdown report, and a system dropped without `shutdown()`.
//! Counts and order, real threads, a real OTLP receiver; time limits only as generous
//! bounds that a broken build misses.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{
    Actor, ActorSystem, AskError, Ctx, Handler, MailboxSize, Message, SendError, SpawnError,
    StopReason, Supervision,
};
use actor_otel::testing::{OtlpReceiver, SpanStore};
use actor_otel::{BatchConfig, Exporter, OtlpProtocol, Telemetry};
use common::*;

/// Held by every test here that runs a `Telemetry` in this process: the test that a
/// dropped system leaves no thread behind counts the process's `otel-export` threads, and
/// those of a test running beside it would count too.
static TELEMETRY_IN_PROCESS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// Supervision: a panic is answered, the state restarts with its mailbox, up to a limit.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_answers_panicked_restarts_and_keeps_queued_messages() {
    let system = system();
    let probe = system
        .actor("fragile")
        .supervision(Supervision::restart(5, Duration::from_secs(60)))
        .spawn(Probe::default)
        .unwrap();
    probe.tell(Push(1)).await.unwrap();
    let (gate, key) = Gate::new();
    probe.tell(gate).await.unwrap();
    eventually("the gate to be taken", || probe.load() == 0);
    // Queue a panic and ten messages behind the gate.
    let boom = {
        let p = probe.clone();
        tokio::spawn(async move { p.ask(Boom).await })
    };
    eventually("the ask to be queued", || probe.load() >= 1);
    for n in 10..20 {
        probe.tell(Push(n)).await.unwrap();
    }
    drop(key);
    match boom.await.unwrap() {
        Err(AskError::Panicked(text)) => assert!(text.contains("boom"), "{text}"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    // A fresh state (1 is gone with the old one) handled every queued message.
    assert_eq!(probe.ask(Seen).await.unwrap(), (10..20).collect::<Vec<_>>());
    let report = system.shutdown().await;
    assert_eq!(report.actors[0].restarts, 1);
    assert_eq!(report.actors[0].panics, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervision_gives_up_after_the_limit_and_queued_asks_are_told() {
    let system = system();
    let probe = system
        .actor("doomed")
        .supervision(Supervision::restart(1, Duration::from_secs(60)))
        .spawn(Probe::default)
        .unwrap();
    let (gate, key) = Gate::new();
    probe.tell(gate).await.unwrap();
    eventually("the gate to be taken", || probe.load() == 0);
    let asks: Vec<_> = (0..3)
        .map(|_| {
            let p = probe.clone();
            tokio::spawn(async move { p.ask(Boom).await })
        })
        .collect();
    eventually("three asks queued", || probe.load() >= 3);
    let queued_after = {
        let p = probe.clone();
        tokio::spawn(async move { p.ask(Seen).await })
    };
    eventually("four asks queued", || probe.load() >= 4);
    drop(key);
    let mut outcomes = Vec::new();
    for a in asks {
        outcomes.push(a.await.unwrap());
    }
    // The first panic restarts (limit 1), the second stops the actor, the third is dropped.
    let panicked = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AskError::Panicked(_))))
        .count();
    let dropped = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AskError::Dropped)))
        .count();
    assert_eq!((panicked, dropped), (2, 1), "{outcomes:?}");
    assert!(matches!(
        queued_after.await.unwrap(),
        Err(AskError::Dropped)
    ));
    eventually("the actor to stop", || !probe.is_alive());
    assert!(matches!(
        probe.tell(Push(1)).await,
        Err(SendError::Closed(_))
    ));
    system.shutdown().await;
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

// Starts that fail.

/// Panics when built.
struct Fragile;
impl Actor for Fragile {}
impl Handler<Push> for Fragile {
    async fn handle(&mut self, _: Push, _cx: &mut Ctx<Self>) {}
}

fn fragile() -> Fragile {
    panic!("no database")
}

#[tokio::test]
async fn a_factory_that_panics_is_reported_by_wait_started_and_in_the_report() {
    let system = ActorSystem::builder()
        .supervision(Supervision::restart(2, Duration::from_secs(60)))
        .build();
    let good = system.spawn("good", Probe::default).unwrap();
    good.wait_started().await.unwrap();

    let broken = system.spawn("broken", fragile).unwrap();
    match broken.wait_started().await {
        Err(SpawnError::StartFailed(why)) => {
            assert!(why.contains("no database"), "{why}");
            assert!(
                why.contains("3 time(s)"),
                "first try and two restarts: {why}"
            );
        }
        other => panic!("expected StartFailed, got {other:?}"),
    }
    // Sync callers learn it too, and sends after it are refused with the message.
    let again = broken.clone();
    let blocking = std::thread::spawn(move || again.blocking_wait_started())
        .join()
        .unwrap();
    assert!(matches!(blocking, Err(SpawnError::StartFailed(_))));
    eventually("the broken actor to close its mailbox", || {
        !broken.is_alive()
    });
    assert!(matches!(
        broken.tell(Push(1)).await,
        Err(actor_core::SendError::Closed(Push(1)))
    ));

    let report = system.shutdown().await;
    let broken = report.actors.iter().find(|a| a.name == "broken").unwrap();
    assert_eq!(broken.reason, StopReason::NotStarted);
    assert_eq!((broken.panics, broken.restarts), (3, 2));
}

// Stop and shutdown: refused messages come back, mailboxes drain, the order holds, and
// stuck actors cost one deadline.

#[tokio::test]
async fn sends_to_a_stopped_actor_return_the_message() {
    let system = system();
    let probe = system.spawn("gone", Probe::default).unwrap();
    probe.stop();
    match probe.tell(Push(9)).await {
        Err(SendError::Closed(Push(n))) => assert_eq!(n, 9),
        other => panic!("expected Closed, got {other:?}"),
    }
    match probe.ask(Seen).await {
        Err(AskError::Send(SendError::Closed(Seen))) => {}
        other => panic!("expected Closed, got {other:?}"),
    }
    eventually("the actor to leave the registry", || {
        system.lookup::<Probe>("gone").is_none()
    });
    assert!(!probe.is_alive());
    // It stopped before shutdown, and the report still says so.
    let report = system.shutdown().await;
    assert_eq!(report.order(), ["gone"]);
    assert_eq!(report.actors[0].reason, StopReason::Requested);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_every_queued_message() {
    let handled = Arc::new(AtomicU64::new(0));
    struct Counter(Arc<AtomicU64>);
    impl Actor for Counter {}
    impl Handler<Push> for Counter {
        async fn handle(&mut self, _: Push, _cx: &mut Ctx<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    impl Handler<Gate> for Counter {
        async fn handle(&mut self, gate: Gate, _cx: &mut Ctx<Self>) {
            let _ = gate.0.lock().unwrap().recv_timeout(PATIENCE);
        }
    }
    let system = ActorSystem::builder()
        .mailbox(MailboxSize::Unbounded)
        .build();
    let h = handled.clone();
    let counter = system.spawn("counter", move || Counter(h.clone())).unwrap();
    let (gate, key) = Gate::new();
    counter.tell(gate).await.unwrap();
    for n in 0..2_000 {
        counter.tell(Push(n)).await.unwrap();
    }
    let shutdown = {
        let system = system.clone();
        tokio::spawn(async move { system.shutdown().await })
    };
    eventually("shutdown to refuse new messages", || !counter.is_alive());
    assert!(matches!(
        counter.tell(Push(0)).await,
        Err(SendError::Closed(_))
    ));
    drop(key);
    let report = shutdown.await.unwrap();
    assert_eq!(handled.load(Ordering::Relaxed), 2_000);
    let actor = &report.actors[0];
    assert_eq!(actor.handled, 2_001);
    assert!(actor.drained >= 2_000, "drained {}", actor.drained);
    assert_eq!(actor.reason, StopReason::Requested);
    assert!(report.all_in_time());
}

#[tokio::test]
async fn shutdown_runs_in_reverse_spawn_order_or_the_declared_one() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let hook_log = log.clone();
    let system = ActorSystem::builder()
        .on_actor_stop(move |info| hook_log.lock().unwrap().push(format!("hook {}", info.name)))
        .build();
    let probe = |log: &Arc<Mutex<Vec<String>>>| {
        let log = log.clone();
        move || Probe {
            log: Some(log.clone()),
            ..Probe::default()
        }
    };
    let db = system.spawn("db", probe(&log)).unwrap();
    let cache = system.spawn("cache", probe(&log)).unwrap();
    // `api` is spawned before `worker` but depends on `cache` and `db`.
    let api = system
        .actor("api")
        .depends_on(db.id())
        .depends_on(cache.id())
        .spawn(probe(&log))
        .unwrap();
    let _worker = system
        .actor("worker")
        .depends_on(api.id())
        .spawn(probe(&log))
        .unwrap();
    let _metrics = system.spawn("metrics", probe(&log)).unwrap();
    let report = system.shutdown().await;
    assert_eq!(
        report.order(),
        vec!["metrics", "worker", "api", "cache", "db"]
    );
    let expected: Vec<String> = ["metrics", "worker", "api", "cache", "db"]
        .iter()
        .flat_map(|n| [format!("stopped {n}"), format!("hook {n}")])
        .collect();
    assert_eq!(*log.lock().unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_flood_returns_every_refused_message() {
    let _telemetry_in_process = TELEMETRY_IN_PROCESS.lock().await;
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
    let _telemetry_in_process = TELEMETRY_IN_PROCESS.lock().await;
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

#[tokio::test]
async fn shutdown_has_one_deadline_however_many_actors_are_stuck() {
    let stopped = Arc::new(Mutex::new(Vec::new()));
    let log = stopped.clone();
    let system = ActorSystem::builder()
        .stop_timeout(Duration::from_secs(3))
        .shutdown_timeout(Duration::from_millis(500))
        .on_actor_stop(move |info| log.lock().unwrap().push(info.name.to_string()))
        .build();
    // Stop order is newest first: `last` stops after the three stuck ones.
    let last = system.spawn("last", Probe::default).unwrap();
    let mut keys = Vec::new();
    for i in 0..3 {
        let stuck = system.spawn(format!("stuck-{i}"), Probe::default).unwrap();
        let (gate, key) = Gate::new();
        stuck.tell(gate).await.unwrap();
        keys.push(key);
    }
    let first = system.spawn("first", Probe::default).unwrap();
    first.tell(Push(1)).await.unwrap();
    last.tell(Push(2)).await.unwrap();

    let report = system.shutdown().await;
    println!("shutdown with three stuck actors took {:?}", report.elapsed);
    // Three stuck actors waited for one after the other would take 9 s; one deadline
    // for the whole shutdown ends it long before a second stop timeout could pass.
    assert!(
        report.elapsed < Duration::from_secs(6),
        "took {:?}",
        report.elapsed
    );
    assert_eq!(
        report.order(),
        ["first", "stuck-2", "stuck-1", "stuck-0", "last"]
    );
    let reason = |name: &str| {
        report
            .actors
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.reason)
            .unwrap()
    };
    assert_eq!(reason("first"), StopReason::Requested);
    for i in 0..3 {
        assert_eq!(reason(&format!("stuck-{i}")), StopReason::DeadlineExceeded);
    }
    assert!(!report.all_in_time());
    // Past the deadline the rest were still asked to stop: `last` drains and stops.
    eventually("`last` to stop on its own", || {
        stopped.lock().unwrap().contains(&"last".to_owned())
    });
    drop(keys);
}

#[tokio::test]
async fn every_actor_ever_spawned_is_in_the_shutdown_report() {
    let system = ActorSystem::builder()
        .supervision(Supervision::Stop)
        .build();
    let quits = system.spawn("quits", Probe::default).unwrap();
    let crashes = system.spawn("crashes", Probe::default).unwrap();
    let never = system.spawn("never", fragile).unwrap();
    let stays = system.spawn("stays", Probe::default).unwrap();

    quits.stop();
    let _ = crashes.ask(Boom).await;
    let _ = never.wait_started().await;
    stays.tell(Push(1)).await.unwrap();
    eventually("three actors to stop on their own", || {
        system.actor_names() == ["stays"]
    });

    let report = system.shutdown().await;
    let reasons: Vec<(&str, StopReason)> = report
        .actors
        .iter()
        .map(|a| (a.name.as_str(), a.reason))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    for (name, reason) in [
        ("quits", StopReason::Requested),
        ("crashes", StopReason::Failed),
        ("never", StopReason::NotStarted),
        ("stays", StopReason::Requested),
    ] {
        assert!(reasons.contains(&(name, reason)), "{name}: {reasons:?}");
    }
    assert_eq!(
        reasons.last().map(|r| r.0),
        Some("stays"),
        "shutdown's own last"
    );
    assert_eq!(report.omitted, 0);
    assert_eq!(report.handled(), 2);
}

// A system dropped without `shutdown()` shuts down all the same.

/// An actor that counts its `stopped` hooks and keeps the handle its context gives it.
struct Counted {
    stopped: Arc<AtomicUsize>,
    /// A clone of `cx.system()`: it must not keep the system alive.
    system: Option<ActorSystem>,
}

impl Actor for Counted {
    async fn started(&mut self, cx: &mut Ctx<Self>) {
        self.system = Some(cx.system().clone());
    }
    async fn stopped(&mut self, _cx: &mut Ctx<Self>) {
        self.stopped.fetch_add(1, Ordering::SeqCst);
    }
}

struct Add(u64);
impl Message for Add {
    type Reply = u64;
}
impl Handler<Add> for Counted {
    async fn handle(&mut self, Add(n): Add, _cx: &mut Ctx<Self>) -> u64 {
        n
    }
}

/// Names of this process's live threads (Linux: `/proc/self/task/*/comm`).
fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// Ten actors, 1,000 tells and 10 asks, exporting per actor to `endpoint`; returns without
/// calling `shutdown()`, inside an async runtime: the drop must flush everything.
async fn forget_shutdown(endpoint: String, stopped: Arc<AtomicUsize>) {
    let telemetry = Telemetry::builder()
        .service_name("forgetful")
        .exporter(Exporter::otlp(OtlpProtocol::HttpProtobuf, Some(endpoint)))
        .global(false)
        .build()
        .unwrap();
    let system = ActorSystem::builder()
        .name("forgetful")
        .instrumentation(telemetry)
        .build();
    let actors: Vec<_> = (0..10)
        .map(|i| {
            let stopped = stopped.clone();
            system
                .spawn(format!("forgot-{i}"), move || Counted {
                    stopped: stopped.clone(),
                    system: None,
                })
                .unwrap()
        })
        .collect();
    for round in 0..100 {
        for actor in &actors {
            actor.tell(Add(round)).await.unwrap();
        }
    }
    for actor in &actors {
        assert_eq!(actor.ask(Add(7)).await.unwrap(), 7);
    }
    // No shutdown(): `system` and `actors` are dropped here.
}

/// Not a test by itself: the child process of
/// `a_process_that_forgets_shutdown_still_exports_every_span`.
#[test]
#[ignore = "run as a child process by the test below"]
fn child_forgets_shutdown() {
    let endpoint = std::env::var("FORGETFUL_ENDPOINT").expect("run by the parent test");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(forget_shutdown(endpoint, Arc::default()));
}

#[test]
fn a_process_that_forgets_shutdown_still_exports_every_span() {
    let receiver = OtlpReceiver::http().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_forgets_shutdown",
            "--ignored",
            "--nocapture",
        ])
        .env("FORGETFUL_ENDPOINT", receiver.endpoint())
        .env_remove("OTEL_TRACES_EXPORTER")
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );
    // The child has exited: whatever reached the receiver was flushed before the exit.
    let spans = receiver.spans();
    let sends = spans
        .iter()
        .filter(|s| s.name().starts_with("send "))
        .count();
    let processes = spans
        .iter()
        .filter(|s| s.name().starts_with("process "))
        .count();
    assert_eq!(
        (sends, processes),
        (1_000, 1_010),
        "a send span per tell, a process span per message"
    );
    assert_eq!(spans.len(), 2_010);
}

#[tokio::test]
async fn dropping_the_last_handle_inside_a_runtime_stops_every_actor() {
    let _telemetry_in_process = TELEMETRY_IN_PROCESS.lock().await;
    // Export threads of a test that ran before and let go of the lock are joined by its
    // shutdown; wait for that, so every `otel-export` thread counted below is this test's.
    eventually("the export threads of earlier tests to end", || {
        !thread_names().iter().any(|name| name == "otel-export")
    });
    let stopped = Arc::new(AtomicUsize::new(0));
    let receiver = OtlpReceiver::http().unwrap();
    forget_shutdown(receiver.endpoint().to_owned(), stopped.clone()).await;
    // The drop blocked until the ordered shutdown was done.
    assert_eq!(stopped.load(Ordering::SeqCst), 10, "stopped ran for each");
    let left: Vec<String> = thread_names()
        .into_iter()
        .filter(|name| name.starts_with("forgot-") || name == "otel-export")
        .collect();
    assert!(left.is_empty(), "threads still alive: {left:?}");
    assert_eq!(receiver.spans().len(), 2_010);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_system_in_sync_code_or_a_multi_thread_runtime_shuts_it_down() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let make = |stopped: Arc<AtomicUsize>| {
        let system = ActorSystem::builder().build();
        let actor = system
            .spawn("dropped", move || Counted {
                stopped: stopped.clone(),
                system: None,
            })
            .unwrap();
        (system, actor)
    };
    // In a task of a multi-thread runtime.
    let (system, actor) = make(stopped.clone());
    actor.tell(Add(1)).await.unwrap();
    let clone = system.clone();
    drop(system);
    assert!(actor.is_alive(), "a clone still holds the system");
    tokio::spawn(async move { drop(clone) }).await.unwrap();
    assert_eq!(stopped.load(Ordering::SeqCst), 1);
    assert!(!actor.is_alive());
    assert!(matches!(
        actor.tell(Add(2)).await,
        Err(actor_core::SendError::Closed(Add(2)))
    ));

    // In plain sync code.
    let stopped_sync = stopped.clone();
    std::thread::spawn(move || {
        let (system, actor) = make(stopped_sync);
        actor.blocking_tell(Add(1)).unwrap();
        drop(system);
        assert!(!actor.is_alive());
    })
    .join()
    .unwrap();
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}
