//! Actors and helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, MailboxSize, Message};

/// Generous limit for waits that only fail when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A test actor that records what it sees.
#[derive(Default)]
pub struct Probe {
    pub seen: Vec<u64>,
    pub log: Option<Arc<Mutex<Vec<String>>>>,
}

impl Actor for Probe {
    async fn stopped(&mut self, cx: &mut Ctx<Self>) {
        if let Some(log) = &self.log {
            log.lock().unwrap().push(format!("stopped {}", cx.name()));
        }
    }
}

/// Records a number.
pub struct Push(pub u64);
impl Message for Push {
    type Reply = ();
}
impl Handler<Push> for Probe {
    async fn handle(&mut self, Push(n): Push, _cx: &mut Ctx<Self>) {
        self.seen.push(n);
    }
}

/// Returns everything recorded so far.
pub struct Seen;
impl Message for Seen {
    type Reply = Vec<u64>;
}
impl Handler<Seen> for Probe {
    async fn handle(&mut self, _: Seen, _cx: &mut Ctx<Self>) -> Vec<u64> {
        self.seen.clone()
    }
}

/// Returns the name of the thread the handler runs on.
pub struct WhereAmI;
impl Message for WhereAmI {
    type Reply = String;
}
impl Handler<WhereAmI> for Probe {
    async fn handle(&mut self, _: WhereAmI, _cx: &mut Ctx<Self>) -> String {
        std::thread::current().name().unwrap_or("").to_owned()
    }
}

/// Blocks the actor's thread until the test drops or signals the sender.
pub struct Gate(pub Mutex<mpsc::Receiver<()>>);
impl Gate {
    /// A gate and the key that opens it (send or drop).
    pub fn new() -> (Gate, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        (Gate(Mutex::new(rx)), tx)
    }
}
impl Message for Gate {
    type Reply = ();
}
impl Handler<Gate> for Probe {
    async fn handle(&mut self, gate: Gate, _cx: &mut Ctx<Self>) {
        let _ = gate.0.lock().unwrap().recv_timeout(PATIENCE);
    }
}

/// Panics in the handler.
pub struct Boom;
impl Message for Boom {
    type Reply = ();
}
impl Handler<Boom> for Probe {
    async fn handle(&mut self, _: Boom, _cx: &mut Ctx<Self>) {
        panic!("boom");
    }
}

/// Sleeps (blocking) for the given time.
pub struct Sleep(pub Duration);
impl Message for Sleep {
    type Reply = ();
}
impl Handler<Sleep> for Probe {
    async fn handle(&mut self, Sleep(d): Sleep, _cx: &mut Ctx<Self>) {
        std::thread::sleep(d);
    }
}

/// Waits until `check` holds, polling; panics after [`PATIENCE`].
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// This process's resident set size in KiB (from `/proc/self/status`).
pub fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap()
}

/// A probe with a mailbox of `capacity` places, held in a handler behind a gate that is
/// already out of the mailbox: what is sent now stays queued until the key is dropped
/// (or [`PATIENCE`] passes).
pub async fn held_with_mailbox(
    system: &ActorSystem,
    name: &str,
    capacity: usize,
) -> (ActorRef<Probe>, mpsc::Sender<()>) {
    let probe = system
        .actor(name)
        .mailbox(MailboxSize::Bounded(capacity))
        .spawn(Probe::default)
        .unwrap();
    let (gate, key) = Gate::new();
    probe.tell(gate).await.unwrap();
    eventually("the gate to be taken out of the mailbox", || {
        probe.load() == 0
    });
    (probe, key)
}
