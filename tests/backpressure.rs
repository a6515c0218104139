//! Full mailboxes: every wait for room ends. An ask's timeout covers it, a stop request
//! ends it, a tell can bound it, and an actor's messages to itself never wait for room
//! that only the actor can free. Whatever is not delivered comes back to its sender.

mod common;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use actor_core::{Actor, ActorSystem, AskError, Ctx, Handler, MailboxSize, Message, SendError};
use common::*;

/// Generous bound for an error that must come long before the held handler lets go
/// ([`PATIENCE`]): the old code answered only then.
const PROMPTLY: Duration = Duration::from_secs(5);

fn system() -> ActorSystem {
    ActorSystem::builder()
        .stop_timeout(Duration::from_millis(300))
        .build()
}

#[tokio::test]
async fn an_ask_timeout_covers_the_wait_for_room() {
    let system = system();
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
    let system = system();
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
    let system = system();
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
    let system = system();
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
