//! Actors for death watch and links: a [`Victim`] that crashes, quits or links on demand,
//! and a [`Watcher`] that records every [`Terminated`] it gets.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use actor_core::{Actor, ActorRef, Ctx, Handler, Message, StopReason, Terminated};

/// An actor to watch: it panics on [`Crash`], stops on [`Quit`], links on [`LinkTo`].
#[derive(Default)]
pub struct Victim;
impl Actor for Victim {}

/// Makes the handler panic.
pub struct Crash;
impl Message for Crash {
    type Reply = ();
}
impl Handler<Crash> for Victim {
    async fn handle(&mut self, _: Crash, _: &mut Ctx<Self>) {
        panic!("crash on demand");
    }
}

/// Makes the actor stop itself.
pub struct Quit;
impl Message for Quit {
    type Reply = ();
}
impl Handler<Quit> for Victim {
    async fn handle(&mut self, _: Quit, cx: &mut Ctx<Self>) {
        cx.stop();
    }
}

/// Answers; proves the actor is still handling messages.
pub struct Ping;
impl Message for Ping {
    type Reply = ();
}
impl Handler<Ping> for Victim {
    async fn handle(&mut self, _: Ping, _: &mut Ctx<Self>) {}
}

/// Links (or, with `false`, unlinks) the actor with another.
pub struct LinkTo(pub ActorRef<Victim>, pub bool);
impl Message for LinkTo {
    type Reply = ();
}
impl Handler<LinkTo> for Victim {
    async fn handle(&mut self, LinkTo(other, on): LinkTo, cx: &mut Ctx<Self>) {
        if on {
            cx.link(&other);
        } else {
            cx.unlink(&other);
        }
    }
}

/// Every [`Terminated`] a watcher got: the name and reason, in order.
pub type Notices = Arc<Mutex<Vec<(String, StopReason)>>>;

/// Watches on demand and records what it is told.
pub struct Watcher {
    pub seen: Notices,
}
impl Actor for Watcher {}

impl Handler<Terminated> for Watcher {
    async fn handle(&mut self, t: Terminated, _: &mut Ctx<Self>) {
        self.seen
            .lock()
            .unwrap()
            .push((t.name.to_string(), t.reason));
    }
}

/// Watches (or, with `false`, unwatches) an actor.
pub struct WatchIt(pub ActorRef<Victim>, pub bool);
impl Message for WatchIt {
    type Reply = ();
}
impl Handler<WatchIt> for Watcher {
    async fn handle(&mut self, WatchIt(other, on): WatchIt, cx: &mut Ctx<Self>) {
        if on {
            cx.watch(&other);
        } else {
            cx.unwatch(&other);
        }
    }
}

/// What the watcher has seen so far (after every message queued before this one).
pub struct SeenSoFar;
impl Message for SeenSoFar {
    type Reply = Vec<(String, StopReason)>;
}
impl Handler<SeenSoFar> for Watcher {
    async fn handle(&mut self, _: SeenSoFar, _: &mut Ctx<Self>) -> Vec<(String, StopReason)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Holds the watcher's thread until the sender side sends or is dropped.
pub struct Hold(pub Mutex<mpsc::Receiver<()>>);
impl Message for Hold {
    type Reply = ();
}
impl Handler<Hold> for Watcher {
    async fn handle(&mut self, Hold(rx): Hold, _: &mut Ctx<Self>) {
        let _ = rx.lock().unwrap().recv();
    }
}

/// A watcher with an empty record.
pub fn watcher() -> (Watcher, Notices) {
    let seen = Notices::default();
    (Watcher { seen: seen.clone() }, seen)
}

/// The final report of `actor`, waiting at most [`PATIENCE`](super::PATIENCE) for its end.
pub async fn ended<A: Actor>(actor: &ActorRef<A>) -> actor_core::ActorReport {
    tokio::time::timeout(super::PATIENCE, actor.wait_stopped())
        .await
        .unwrap_or_else(|_| panic!("{} did not stop in time", actor.name()))
        .expect("a report")
}
