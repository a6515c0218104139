//! Mailbox bounds and every wait for room. A full mailbox hands a `try_tell` its message
//! back; many async and blocking senders on a tiny mailbox lose nothing, keep their order
//! and never overfill it; and every wait for room ends: an ask's timeout covers it, a tell
//! can bound it, a stop request ends it, and an actor's messages to itself never wait for
//! room that only the actor can free. Whatever is not delivered comes back to its sender.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{Actor, ActorSystem, AskError, Ctx, Handler, MailboxSize, Message, SendError};
use common::*;

/// Generous bound for an error that must come long before the held handler lets go
/// ([`PATIENCE`]): the old code answered only then.
const PROMPTLY: Duration = Duration::from_secs(5);

/// A system that gives up on a stuck actor after 300 ms.
fn impatient_system() -> ActorSystem {
    ActorSystem::builder()
        .stop_timeout(Duration::from_millis(300))
        .build()
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
    let watching = Arc::new(AtomicBool::new(true));
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
    eventually("the actor to stop", || !probe.is_alive());
    system.shutdown().await;
}

#[tokio::test]
async fn an_ask_timeout_covers_the_wait_for_room() {
    let system = impatient_system();
    let (probe, _key) = held_with_mailbox(&system, "full", 1).await;
    probe.try_tell(Push(1)).unwrap();

    let asked = tokio::time::timeout(
        PROMPTLY,
        probe.ask(Seen).timeout(Duration::from_millis(200)),
    )
    .await
    .expect("the ask's own limit ends it");
    let error = asked.expect_err("the mailbox stayed full");
    assert!(error.is_timeout(), "{error:?}");
    assert!(matches!(error, AskError::Send(SendError::Timeout(Seen))));

    // The same from sync code, and the message comes back.
    let blocking = probe.clone();
    let error = std::thread::spawn(move || {
        blocking
            .ask(Push(2))
            .timeout(Duration::from_millis(200))
            .blocking()
            .expect_err("the mailbox stayed full")
    })
    .join()
    .unwrap();
    assert!(error.is_timeout(), "{error:?}");
    assert!(matches!(error.into_message(), Some(Push(2))));
    system.shutdown().await;
}

#[tokio::test]
async fn a_stop_request_ends_every_wait_for_room_while_the_handler_is_still_stuck() {
    let system = impatient_system();
    let (probe, key) = held_with_mailbox(&system, "stuck", 1).await;
    probe.try_tell(Push(1)).unwrap();
    let waiting: Vec<_> = (2..5)
        .map(|n| {
            let probe = probe.clone();
            tokio::spawn(async move { probe.tell(Push(n)).await })
        })
        .collect();
    let blocked = {
        let probe = probe.clone();
        std::thread::spawn(move || probe.blocking_tell(Push(5)))
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "all wait for room"
    );

    // Shutdown gives up on the stuck actor after its stop timeout; the senders must not
    // wait for the handler to let go.
    let report = system.shutdown().await;
    assert!(!report.all_in_time());
    for (n, task) in (2..5).zip(waiting) {
        match tokio::time::timeout(PROMPTLY, task).await {
            Ok(Ok(Err(SendError::Closed(Push(m))))) => assert_eq!(m, n),
            other => panic!("expected Closed({n}) at once, got {other:?}"),
        }
    }
    let blocked = tokio::time::timeout(
        PROMPTLY,
        tokio::task::spawn_blocking(move || blocked.join()),
    )
    .await
    .expect("the blocking sender is released at once")
    .unwrap()
    .unwrap();
    assert!(matches!(blocked, Err(SendError::Closed(Push(5)))));
    drop(key);
}

#[tokio::test]
async fn tell_with_a_timeout_hands_the_message_back() {
    let system = impatient_system();
    let (probe, key) = held_with_mailbox(&system, "slow", 1).await;
    probe.try_tell(Push(1)).unwrap();

    let told = tokio::time::timeout(
        PROMPTLY,
        probe.tell(Push(2)).timeout(Duration::from_millis(100)),
    )
    .await
    .expect("the tell's limit ends it");
    assert!(matches!(told, Err(SendError::Timeout(Push(2)))));

    // Through a recipient and from sync code.
    let recipient = probe.recipient::<Push>();
    let told = std::thread::spawn(move || {
        recipient
            .tell(Push(3))
            .timeout(Duration::from_millis(100))
            .blocking()
    })
    .join()
    .unwrap();
    assert!(matches!(told, Err(SendError::Timeout(Push(3)))));

    // With room in time, it is delivered.
    let later = {
        let probe = probe.clone();
        tokio::spawn(async move { probe.tell(Push(4)).timeout(PATIENCE).await })
    };
    drop(key);
    later.await.unwrap().unwrap();
    assert_eq!(probe.ask(Seen).await.unwrap(), vec![1, 4]);
    system.shutdown().await;
}

/// Tells itself while others keep its mailbox full.
#[derive(Default)]
struct Looper {
    ticks: u64,
    refused: Vec<String>,
}
impl Actor for Looper {}

struct Tick;
impl Message for Tick {
    type Reply = ();
}
impl Handler<Tick> for Looper {
    async fn handle(&mut self, _: Tick, _cx: &mut Ctx<Self>) {
        self.ticks += 1;
    }
}

/// Signals that it runs, waits for the test to fill the mailbox, then sends `n` ticks to
/// itself with `tell` and `n` with `try_tell`.
struct Fan {
    n: u64,
    entered: mpsc::Sender<()>,
    go: Mutex<mpsc::Receiver<()>>,
}
impl Message for Fan {
    type Reply = ();
}
impl Handler<Fan> for Looper {
    async fn handle(&mut self, fan: Fan, cx: &mut Ctx<Self>) {
        let _ = fan.entered.send(());
        let _ = fan.go.lock().unwrap().recv_timeout(PATIENCE);
        for _ in 0..fan.n {
            if let Err(e) = cx.myself().tell(Tick).await {
                self.refused.push(format!("tell: {e}"));
            }
            if let Err(e) = cx.myself().try_tell(Tick) {
                self.refused.push(format!("try_tell: {e}"));
            }
        }
    }
}

struct Ticks;
impl Message for Ticks {
    type Reply = (u64, Vec<String>);
}
impl Handler<Ticks> for Looper {
    async fn handle(&mut self, _: Ticks, _cx: &mut Ctx<Self>) -> (u64, Vec<String>) {
        (self.ticks, self.refused.clone())
    }
}

#[tokio::test]
async fn an_actor_telling_itself_never_waits_for_room_in_its_own_mailbox() {
    let system = impatient_system();
    let looper = system
        .actor("looper")
        .mailbox(MailboxSize::Bounded(4))
        .spawn(Looper::default)
        .unwrap();
    let (entered_tx, entered) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    looper
        .tell(Fan {
            n: 10,
            entered: entered_tx,
            go: Mutex::new(go_rx),
        })
        .await
        .unwrap();
    entered.recv_timeout(PATIENCE).unwrap();
    // Other senders fill the mailbox while the actor is busy.
    let mut queued = 0;
    while looper.try_tell(Tick).is_ok() {
        queued += 1;
    }
    assert_eq!(queued, 4);
    go.send(()).unwrap();

    // The 20 self-sends went in past the bound; the ask gets its place once the actor
    // takes them out.
    let (ticks, refused) = looper.ask(Ticks).timeout(PATIENCE).await.unwrap();
    assert_eq!(refused, Vec::<String>::new());
    assert_eq!(ticks, 4 + 20);
    let report = system.shutdown().await;
    assert!(report.all_in_time());
    assert_eq!(report.handled(), 1 + 4 + 20 + 1);
}
