//! The actor runtime (issue 2): threads, typed tell/ask, mailboxes, errors, supervision,
//! pools and ordered shutdown, on real threads and runtimes.

mod common;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{
    Actor, ActorSystem, AskError, Ctx, Dispatch, Handler, MailboxSize, Message, SendError,
    SpawnError, StopReason, Supervision,
};
use common::*;

fn system() -> ActorSystem {
    ActorSystem::builder().name("test").build()
}

#[tokio::test]
async fn handler_runs_on_the_actors_named_thread() {
    let system = system();
    let probe = system.spawn("probe-thread", Probe::default).unwrap();
    let here = std::thread::current().name().map(str::to_owned);
    let there = probe.ask(WhereAmI).await.unwrap();
    assert_eq!(there, "probe-thread");
    assert_ne!(Some(there), here);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_one_sender_arrive_in_order() {
    let system = system();
    let probe = system.spawn("ordered", Probe::default).unwrap();
    for n in 0..5_000 {
        probe.tell(Push(n)).await.unwrap();
    }
    let seen = probe.ask(Seen).await.unwrap();
    assert_eq!(seen, (0..5_000).collect::<Vec<_>>());
    system.shutdown().await;
}

#[test]
fn tell_and_ask_from_sync_code() {
    let system = system();
    let probe = system.spawn("sync", Probe::default).unwrap();
    probe.blocking_tell(Push(7)).unwrap();
    assert_eq!(probe.blocking_ask(Seen).unwrap(), vec![7]);
    assert_eq!(
        probe
            .ask(Seen)
            .timeout(Duration::from_secs(1))
            .blocking()
            .unwrap(),
        vec![7]
    );
    system.blocking_shutdown();
}

#[test]
fn tell_and_ask_from_other_runtimes_and_executors() {
    let system = system();
    let probe = system.spawn("other-rt", Probe::default).unwrap();

    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current.block_on(async {
        probe.tell(Push(1)).await.unwrap();
        assert_eq!(probe.ask(Seen).await.unwrap(), vec![1]);
    });

    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let p = probe.clone();
    multi
        .block_on(multi.spawn(async move {
            p.tell(Push(2)).await.unwrap();
            assert_eq!(p.ask(Seen).await.unwrap(), vec![1, 2]);
        }))
        .unwrap();

    // No tokio at all: the ask timeout falls back to the shared timer thread.
    futures::executor::block_on(async {
        probe.tell(Push(3)).await.unwrap();
        let seen = probe
            .ask(Seen)
            .timeout(Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(seen, vec![1, 2, 3]);
        let (gate, key) = Gate::new();
        probe.tell(gate).await.unwrap();
        let late = probe.ask(Seen).timeout(Duration::from_millis(20)).await;
        assert!(matches!(late, Err(AskError::Timeout(_))), "{late:?}");
        drop(key);
    });
    system.blocking_shutdown();
}

/// State that is not `Send`: built on the actor's thread by a `Send` factory.
struct Local {
    cells: Rc<RefCell<Vec<u64>>>,
}
impl Actor for Local {}
impl Handler<Push> for Local {
    async fn handle(&mut self, Push(n): Push, _cx: &mut Ctx<Self>) {
        let cells = self.cells.clone();
        // A handler future that is not Send either, holding an Rc across an await.
        tokio::task::yield_now().await;
        cells.borrow_mut().push(n);
    }
}
impl Handler<Seen> for Local {
    async fn handle(&mut self, _: Seen, _cx: &mut Ctx<Self>) -> Vec<u64> {
        self.cells.borrow().clone()
    }
}

#[tokio::test]
async fn state_and_handler_futures_may_be_not_send() {
    let system = system();
    let local = system
        .spawn("local", || Local {
            cells: Rc::new(RefCell::new(Vec::new())),
        })
        .unwrap();
    local.tell(Push(4)).await.unwrap();
    local.tell(Push(5)).await.unwrap();
    assert_eq!(local.ask(Seen).await.unwrap(), vec![4, 5]);
    system.shutdown().await;
}

#[tokio::test]
async fn a_blocked_actor_does_not_stall_another() {
    let system = system();
    let stuck = system.spawn("stuck", Probe::default).unwrap();
    let free = system.spawn("free", Probe::default).unwrap();
    let (gate, key) = Gate::new();
    stuck.tell(gate).await.unwrap();
    // `stuck` blocks its thread until `key` is dropped; `free` still answers.
    free.tell(Push(1)).await.unwrap();
    assert_eq!(free.ask(Seen).await.unwrap(), vec![1]);
    let stalled = stuck.ask(Seen).timeout(Duration::from_millis(50)).await;
    assert!(matches!(stalled, Err(AskError::Timeout(_))));
    drop(key);
    assert_eq!(stuck.ask(Seen).await.unwrap(), Vec::<u64>::new());
    system.shutdown().await;
}

#[tokio::test]
async fn a_full_mailbox_hands_the_message_back() {
    let system = system();
    let (probe, key) = held_with_mailbox(&system, "small", 2).await;
    probe.try_tell(Push(1)).unwrap();
    probe.try_tell(Push(2)).unwrap();
    match probe.try_tell(Push(3)) {
        Err(SendError::Full(Push(n))) => assert_eq!(n, 3),
        other => panic!("expected Full, got {other:?}"),
    }
    drop(key);
    // `tell` waits for room instead.
    probe.tell(Push(3)).await.unwrap();
    assert_eq!(probe.ask(Seen).await.unwrap(), vec![1, 2, 3]);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_senders_on_a_tiny_mailbox_lose_nothing_and_never_overfill_it() {
    const CAPACITY: usize = 3;
    const SENDERS: u64 = 6;
    const EACH: u64 = 2_000;
    let system = system();
    let probe = system
        .actor("tiny")
        .mailbox(MailboxSize::Bounded(CAPACITY))
        .spawn(Probe::default)
        .unwrap();
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (probe, watching) = (probe.clone(), watching.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            while watching.load(Ordering::Relaxed) {
                most = most.max(probe.load());
            }
            most
        })
    };
    // Async senders on the runtime's workers, and blocking ones on their own threads.
    let tasks: Vec<_> = (0..SENDERS / 2)
        .map(|s| {
            let probe = probe.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    probe.tell(Push(s * EACH + i)).await.unwrap();
                }
            })
        })
        .collect();
    let threads: Vec<_> = (SENDERS / 2..SENDERS)
        .map(|s| {
            let probe = probe.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    probe.blocking_tell(Push(s * EACH + i)).unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let seen = probe.ask(Seen).await.unwrap();
    watching.store(false, Ordering::Relaxed);
    assert!(
        watcher.join().unwrap() <= CAPACITY,
        "never more queued than the capacity"
    );
    assert_eq!(
        seen.len() as u64,
        SENDERS * EACH,
        "every message arrived once"
    );
    for s in 0..SENDERS {
        let mine: Vec<u64> = seen.iter().copied().filter(|n| n / EACH == s).collect();
        let sent: Vec<u64> = (s * EACH..(s + 1) * EACH).collect();
        assert_eq!(mine, sent, "sender {s}'s messages in its order");
    }
    system.shutdown().await;
}

#[tokio::test]
async fn a_sender_waiting_for_room_learns_when_the_actor_stops() {
    let system = system();
    let (probe, key) = held_with_mailbox(&system, "stopping", 1).await;
    probe.tell(Push(1)).await.unwrap();
    let waiting = {
        let probe = probe.clone();
        tokio::spawn(async move { probe.tell(Push(2)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !waiting.is_finished(),
        "the mailbox is full: the tell waits"
    );
    probe.stop();
    drop(key);
    match tokio::time::timeout(PATIENCE, waiting).await {
        Ok(Ok(Err(SendError::Closed(Push(2))))) => {}
        other => panic!("expected the message back as Closed, got {other:?}"),
    }
    common::eventually("the actor to stop", || !probe.is_alive());
    system.shutdown().await;
}

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
    common::eventually("the actor to leave the registry", || {
        system.lookup::<common::Probe>("gone").is_none()
    });
    assert!(!probe.is_alive());
    // It stopped before shutdown, and the report still says so.
    let report = system.shutdown().await;
    assert_eq!(report.order(), ["gone"]);
    assert_eq!(report.actors[0].reason, StopReason::Requested);
}

#[tokio::test]
async fn an_ask_times_out_instead_of_hanging() {
    let system = system();
    let probe = system.spawn("slow", Probe::default).unwrap();
    probe.tell(Sleep(Duration::from_millis(300))).await.unwrap();
    let r = probe.ask(Seen).timeout(Duration::from_millis(20)).await;
    assert!(matches!(r, Err(AskError::Timeout(d)) if d == Duration::from_millis(20)));
    system.shutdown().await;
}

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
    common::eventually("the gate to be taken", || probe.load() == 0);
    // Queue a panic and ten messages behind the gate.
    let boom = {
        let p = probe.clone();
        tokio::spawn(async move { p.ask(Boom).await })
    };
    common::eventually("the ask to be queued", || probe.load() >= 1);
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
    common::eventually("the gate to be taken", || probe.load() == 0);
    let asks: Vec<_> = (0..3)
        .map(|_| {
            let p = probe.clone();
            tokio::spawn(async move { p.ask(Boom).await })
        })
        .collect();
    common::eventually("three asks queued", || probe.load() >= 3);
    let queued_after = {
        let p = probe.clone();
        tokio::spawn(async move { p.ask(Seen).await })
    };
    common::eventually("four asks queued", || probe.load() >= 4);
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
    common::eventually("the actor to stop", || !probe.is_alive());
    assert!(matches!(
        probe.tell(Push(1)).await,
        Err(SendError::Closed(_))
    ));
    system.shutdown().await;
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
    common::eventually("shutdown to refuse new messages", || !counter.is_alive());
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

#[tokio::test]
async fn a_pool_spreads_work_over_its_threads() {
    let system = system();
    for dispatch in [Dispatch::RoundRobin, Dispatch::LeastLoaded] {
        let name = format!("pool-{dispatch:?}").to_lowercase();
        let pool = system
            .pool(name.clone(), 4)
            .dispatch(dispatch)
            .spawn(Probe::default)
            .unwrap();
        let mut threads = HashSet::new();
        let asks: Vec<_> = (0..200)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.ask(WhereAmI).await.unwrap() })
            })
            .collect();
        for a in asks {
            threads.insert(a.await.unwrap());
        }
        let expected: HashSet<String> = (0..4).map(|i| format!("{name}-{i}")).collect();
        assert_eq!(threads, expected, "{dispatch:?}");
        // A stopped worker is skipped.
        pool.workers()[0].stop();
        for _ in 0..8 {
            assert_ne!(pool.ask(WhereAmI).await.unwrap(), format!("{name}-0"));
        }
        pool.stop();
    }
    system.shutdown().await;
}

#[tokio::test]
async fn recipients_and_lookup_by_name() {
    let system = system();
    let probe = system.spawn("named", Probe::default).unwrap();
    let found = system.lookup::<Probe>("named").expect("registered");
    assert_eq!(found.id(), probe.id());
    assert!(system.lookup::<Local>("named").is_none(), "wrong type");
    assert!(matches!(
        system.spawn("named", Probe::default),
        Err(SpawnError::NameTaken(_))
    ));

    let pusher: actor_core::Recipient<Push> = probe.recipient();
    let reader: actor_core::Recipient<Seen> = found.recipient();
    pusher.tell(Push(1)).await.unwrap();
    pusher.try_tell(Push(2)).unwrap();
    assert_eq!(reader.ask(Seen).await.unwrap(), vec![1, 2]);
    assert_eq!(reader.name(), "named");
    system.shutdown().await;
    assert!(matches!(
        system.spawn("late", Probe::default),
        Err(SpawnError::SystemStopped)
    ));
    assert!(matches!(
        pusher.tell(Push(3)).await,
        Err(SendError::Closed(_))
    ));
}

/// An actor that asks itself, and blocks on another from its handler.
struct Selfish;
impl Actor for Selfish {}
struct AskMyself;
impl Message for AskMyself {
    type Reply = String;
}
impl Handler<AskMyself> for Selfish {
    async fn handle(&mut self, _: AskMyself, cx: &mut Ctx<Self>) -> String {
        let own = cx.myself().ask(Ping).await;
        let other = cx.system().lookup::<Probe>("other").unwrap();
        let blocking = other.blocking_ask(Seen);
        format!("{own:?} / {blocking:?}")
    }
}
struct Ping;
impl Message for Ping {
    type Reply = ();
}
impl Handler<Ping> for Selfish {
    async fn handle(&mut self, _: Ping, _cx: &mut Ctx<Self>) {}
}

#[tokio::test]
async fn misuse_gets_errors_not_deadlocks() {
    let system = system();
    system.spawn("other", Probe::default).unwrap();
    let selfish = system.spawn("selfish", || Selfish).unwrap();
    let answer = selfish.ask(AskMyself).await.unwrap();
    assert_eq!(
        answer,
        "Err(AskError::SelfAsk(..)) / Err(AskError::Send(SendError::WouldBlock(..)))"
    );
    assert!(matches!(
        system
            .actor("pinned")
            .pin_to_core(10_000)
            .spawn(Probe::default),
        Err(SpawnError::NoSuchCore { .. })
    ));
    assert!(matches!(
        system.pool("empty", 0).spawn(Probe::default),
        Err(SpawnError::EmptyPool)
    ));
    system.shutdown().await;
}

#[tokio::test]
async fn pinned_actor_runs() {
    let system = system();
    let pinned = system
        .actor("pinned")
        .pin_to_core(0)
        .spawn(Probe::default)
        .unwrap();
    assert_eq!(pinned.ask(WhereAmI).await.unwrap(), "pinned");
    system.shutdown().await;
}
