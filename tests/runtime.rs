//! The actor runtime: each actor on its own named OS thread, typed `tell` and `ask` from
//! async and sync callers on any runtime or none, state and handler futures that need not
//! be `Send`, pools, recipients, lookup by name, the errors misuse gets instead of a
//! deadlock, and the handles' `Send + Sync` surface. Mailbox bounds are in `backpressure.rs`,
//! supervision and shutdown in `lifecycle.rs`.

mod common;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use actor_core::{
    Actor, ActorRef, ActorSystem, AskError, Ctx, Dispatch, Handler, Message, Pool, Recipient,
    SendError, SpawnError,
};
use actor_otel::Telemetry;
use common::*;

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
async fn an_ask_times_out_instead_of_hanging() {
    let system = system();
    let probe = system.spawn("slow", Probe::default).unwrap();
    probe.tell(Sleep(Duration::from_millis(300))).await.unwrap();
    let r = probe.ask(Seen).timeout(Duration::from_millis(20)).await;
    assert!(matches!(r, Err(AskError::Timeout(d)) if d == Duration::from_millis(20)));
    system.shutdown().await;
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
async fn an_actor_pinned_to_a_core_runs_on_its_own_thread() {
    let system = system();
    let pinned = system
        .actor("pinned")
        .pin_to_core(0)
        .spawn(Probe::default)
        .unwrap();
    assert_eq!(pinned.ask(WhereAmI).await.unwrap(), "pinned");
    system.shutdown().await;
}

/// Every handle, the system and the telemetry can be cloned and moved to any thread or
/// task, and a `tell` or `ask` (with or without a timeout) can be awaited inside
/// `tokio::spawn`, which takes only `Send + 'static` futures: this test compiles only if
/// that holds. (That `Ctx` is not `Send` is a `compile_fail` doctest of actor-core.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_are_send_sync_clone_static_and_their_sends_are_send_futures() {
    fn send_sync_clone_static<T: Send + Sync + Clone + 'static>() {}
    send_sync_clone_static::<ActorRef<Probe>>();
    send_sync_clone_static::<Pool<Probe>>();
    send_sync_clone_static::<Recipient<Push>>();
    send_sync_clone_static::<ActorSystem>();
    send_sync_clone_static::<Telemetry>();

    let system = system();
    let actor = system.spawn("anywhere", Probe::default).unwrap();
    let pool = system
        .pool("anywhere-pool", 2)
        .spawn(Probe::default)
        .unwrap();
    let pusher: Recipient<Push> = actor.recipient();
    let reader: Recipient<Seen> = actor.recipient();

    let a = actor.clone();
    tokio::spawn(async move { a.tell(Push(1)).await })
        .await
        .unwrap()
        .unwrap();
    let r = pusher.clone();
    tokio::spawn(async move { r.tell(Push(2)).timeout(PATIENCE).await })
        .await
        .unwrap()
        .unwrap();
    let a = actor.clone();
    let seen = tokio::spawn(async move { a.ask(Seen).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, vec![1, 2]);
    let r = reader.clone();
    let seen = tokio::spawn(async move { r.ask(Seen).timeout(PATIENCE).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, vec![1, 2]);
    let p = pool.clone();
    tokio::spawn(async move { p.tell(Push(3)).await })
        .await
        .unwrap()
        .unwrap();
    let p = pool.clone();
    tokio::spawn(async move { p.ask(Seen).timeout(PATIENCE).await })
        .await
        .unwrap()
        .unwrap();

    // The system's own shutdown can run in a spawned task too.
    let s = system.clone();
    let report = tokio::spawn(async move { s.shutdown().await })
        .await
        .unwrap();
    assert!(report.all_in_time());
}
