//! Death watch and links on real threads: a [`Terminated`] per watch for every way an
//! actor ends (failure beyond its restart limit, stop, shutdown, system drop, never
//! started), at once for an actor already dead, none after `unwatch`, through a full
//! mailbox; links stop the partner on failure only, along a chain, and not after `unlink`.

mod common;

use std::sync::{mpsc, Mutex};
use std::time::Duration;

use actor_core::{ActorRef, ActorSystem, MailboxSize, StopReason, Supervision};
use common::watching::*;
use common::{eventually, system};

fn spawn_watcher(system: &ActorSystem, name: &str) -> (ActorRef<Watcher>, Notices) {
    let seen = Notices::default();
    let shared = seen.clone();
    let watcher = system
        .spawn(name, move || Watcher {
            seen: shared.clone(),
        })
        .unwrap();
    (watcher, seen)
}

fn spawn_victim(system: &ActorSystem, name: &str, policy: Supervision) -> ActorRef<Victim> {
    system
        .actor(name)
        .supervision(policy)
        .spawn(|| Victim)
        .unwrap()
}

#[tokio::test]
async fn a_panic_beyond_the_restart_limit_delivers_exactly_one_terminated() {
    let system = system();
    let (watcher, _) = spawn_watcher(&system, "watcher");
    let victim = spawn_victim(
        &system,
        "victim",
        Supervision::restart(1, Duration::from_secs(60)),
    );
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    victim.tell(Crash).await.unwrap();
    victim.tell(Crash).await.unwrap();
    let report = ended(&victim).await;
    assert_eq!(report.reason, StopReason::Failed);
    assert_eq!(report.restarts, 1);
    // The notice is queued before the end is visible: everything after it comes later.
    let seen = watcher.ask(SeenSoFar).await.unwrap();
    assert_eq!(
        seen,
        vec![("victim".to_owned(), StopReason::Failed)],
        "one notice for two watch calls"
    );
    system.shutdown().await;
}

#[tokio::test]
async fn watching_an_actor_already_dead_delivers_at_once() {
    let system = system();
    let (watcher, _) = spawn_watcher(&system, "watcher");
    let victim = spawn_victim(&system, "victim", Supervision::Stop);
    victim.stop();
    ended(&victim).await;
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    let seen = watcher.ask(SeenSoFar).await.unwrap();
    assert_eq!(seen, vec![("victim".to_owned(), StopReason::Requested)]);
    system.shutdown().await;
}

#[tokio::test]
async fn an_actor_that_never_started_is_reported_to_its_watchers() {
    let system = system();
    let (watcher, _) = spawn_watcher(&system, "watcher");
    let victim: ActorRef<Victim> = system
        .actor("victim")
        .supervision(Supervision::Stop)
        .spawn(|| -> Victim { panic!("no state") })
        .unwrap();
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    ended(&victim).await;
    let seen = watcher.ask(SeenSoFar).await.unwrap();
    assert_eq!(seen, vec![("victim".to_owned(), StopReason::NotStarted)]);
    system.shutdown().await;
}

#[tokio::test]
async fn unwatch_delivers_none() {
    let system = system();
    let (watcher, _) = spawn_watcher(&system, "watcher");
    let victim = spawn_victim(&system, "victim", Supervision::Stop);
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    watcher.ask(WatchIt(victim.clone(), false)).await.unwrap();
    victim.tell(Crash).await.unwrap();
    ended(&victim).await;
    assert!(watcher.ask(SeenSoFar).await.unwrap().is_empty());
    system.shutdown().await;
}

#[tokio::test]
async fn a_stop_delivers_to_each_of_two_watchers() {
    let system = system();
    let (first, _) = spawn_watcher(&system, "first");
    let (second, _) = spawn_watcher(&system, "second");
    let victim = spawn_victim(&system, "victim", Supervision::Stop);
    first.ask(WatchIt(victim.clone(), true)).await.unwrap();
    second.ask(WatchIt(victim.clone(), true)).await.unwrap();
    victim.tell(Quit).await.unwrap();
    ended(&victim).await;
    for watcher in [&first, &second] {
        let seen = watcher.ask(SeenSoFar).await.unwrap();
        assert_eq!(seen, vec![("victim".to_owned(), StopReason::Requested)]);
    }
    system.shutdown().await;
}

#[tokio::test]
async fn shutdown_delivers_to_a_watcher_that_stops_later() {
    let system = system();
    // Spawned first, so stopped after the victim (newest first).
    let (watcher, seen) = spawn_watcher(&system, "watcher");
    let victim = spawn_victim(&system, "victim", Supervision::Stop);
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    let report = system.shutdown().await;
    assert_eq!(report.order(), vec!["victim", "watcher"]);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("victim".to_owned(), StopReason::Requested)]
    );
    assert_eq!(system.dead_letters(), 0);
}

#[test]
fn dropping_the_system_delivers() {
    let system = system();
    let (watcher, seen) = spawn_watcher(&system, "watcher");
    let victim = spawn_victim(&system, "victim", Supervision::Stop);
    watcher.blocking_ask(WatchIt(victim.clone(), true)).unwrap();
    drop((watcher, victim));
    drop(system);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("victim".to_owned(), StopReason::Requested)]
    );
}

#[tokio::test]
async fn the_notice_gets_a_place_in_a_full_mailbox() {
    let system = system();
    let seen = Notices::default();
    let shared = seen.clone();
    let watcher = system
        .actor("watcher")
        .mailbox(MailboxSize::Bounded(1))
        .spawn(move || Watcher {
            seen: shared.clone(),
        })
        .unwrap();
    let victim = spawn_victim(&system, "victim", Supervision::Stop);
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    let (release, held) = mpsc::channel();
    watcher.tell(Hold(Mutex::new(held))).await.unwrap();
    // The holder is running; one more fills the mailbox.
    eventually("the mailbox is full", || {
        watcher.try_tell(SeenSoFar).is_ok() && watcher.load() >= 1
    });
    assert!(watcher.try_tell(SeenSoFar).is_err(), "the mailbox is full");
    victim.stop();
    ended(&victim).await;
    release.send(()).unwrap();
    let seen_now = watcher.ask(SeenSoFar).await.unwrap();
    assert_eq!(seen_now, vec![("victim".to_owned(), StopReason::Requested)]);
    drop(seen);
    system.shutdown().await;
}

#[tokio::test]
async fn a_watcher_that_stopped_leaves_nothing_behind() {
    let system = system();
    let (watcher, seen) = spawn_watcher(&system, "watcher");
    let victim = spawn_victim(&system, "victim", Supervision::Stop);
    watcher.ask(WatchIt(victim.clone(), true)).await.unwrap();
    watcher.stop();
    ended(&watcher).await;
    victim.stop();
    ended(&victim).await;
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(system.dead_letters(), 0, "no notice for a watcher gone");
    system.shutdown().await;
}

#[tokio::test]
async fn a_linked_failure_stops_the_other_and_a_normal_stop_does_not() {
    let system = system();
    let a = spawn_victim(&system, "a", Supervision::Stop);
    let b = spawn_victim(&system, "b", Supervision::Stop);
    let c = spawn_victim(&system, "c", Supervision::Stop);
    let calm = spawn_victim(&system, "calm", Supervision::Stop);
    // a - b - c: c's failure reaches a through b.
    a.ask(LinkTo(b.clone(), true)).await.unwrap();
    b.ask(LinkTo(c.clone(), true)).await.unwrap();
    // calm - a stops normally: nothing propagates to calm... until a fails.
    let quiet = spawn_victim(&system, "quiet", Supervision::Stop);
    calm.ask(LinkTo(quiet.clone(), true)).await.unwrap();
    quiet.tell(Quit).await.unwrap();
    assert_eq!(ended(&quiet).await.reason, StopReason::Requested);
    calm.ask(Ping).await.unwrap();
    assert!(calm.is_alive(), "a normal stop does not propagate");

    c.tell(Crash).await.unwrap();
    assert_eq!(ended(&c).await.reason, StopReason::Failed);
    assert_eq!(ended(&b).await.reason, StopReason::LinkFailed(c.id()));
    assert_eq!(ended(&a).await.reason, StopReason::LinkFailed(b.id()));
    system.shutdown().await;
}

#[tokio::test]
async fn unlink_stops_the_propagation() {
    let system = system();
    let a = spawn_victim(&system, "a", Supervision::Stop);
    let b = spawn_victim(&system, "b", Supervision::Stop);
    a.ask(LinkTo(b.clone(), true)).await.unwrap();
    b.ask(LinkTo(a.clone(), false)).await.unwrap();
    b.tell(Crash).await.unwrap();
    ended(&b).await;
    a.ask(Ping).await.unwrap();
    assert!(a.is_alive());
    system.shutdown().await;
}

#[tokio::test]
async fn linking_to_an_actor_that_already_failed_stops_the_linker() {
    let system = system();
    let a = spawn_victim(&system, "a", Supervision::Stop);
    let b = spawn_victim(&system, "b", Supervision::Stop);
    b.tell(Crash).await.unwrap();
    ended(&b).await;
    a.ask(LinkTo(b.clone(), true)).await.unwrap();
    assert_eq!(ended(&a).await.reason, StopReason::LinkFailed(b.id()));
    system.shutdown().await;
}
