//! The life of a system and its actors when the user errs: forgetting `shutdown()`, stuck
//! actors, actors that stop on their own or never start. Counts and order, real threads,
//! a real OTLP receiver; time limits only as generous bounds that a broken build misses.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{Actor, ActorSystem, Ctx, Handler, Message, SpawnError, StopReason, Supervision};
use actor_otel::testing::OtlpReceiver;
use actor_otel::{Exporter, OtlpProtocol, Telemetry};
use common::*;

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
