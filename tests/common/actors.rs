//! Actors shared by several test areas, with the messages they handle.
//!
//! - [`Probe`] records numbers and says where it runs; [`Gate`] holds its thread, [`Boom`]
//!   panics, [`Sleep`] blocks. The runtime, mailbox and lifecycle tests use it.
//! - [`Flaky`] handles [`Job`]s, panicking on the ones marked to, and counts them.
//! - [`Worker`] is the traced actor: it makes spans in its handlers, reports the context
//!   and baggage it sees, relays to the next actor, fails, and tells itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, MailboxSize, Message};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, SpanContext, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use super::{eventually, PATIENCE};

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
pub struct Gate(pub Mutex<mpsc::Receiver<()>>, Option<mpsc::Sender<()>>);
impl Gate {
    /// A gate and the key that opens it (send or drop).
    pub fn new() -> (Gate, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        (Gate(Mutex::new(rx), None), tx)
    }

    /// A gate, its key, and a receiver that hears when the handler is in the gate (the
    /// message is in hand, not only out of the mailbox).
    pub fn entered() -> (Gate, mpsc::Sender<()>, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let (in_tx, in_rx) = mpsc::channel();
        (Gate(Mutex::new(rx), Some(in_tx)), tx, in_rx)
    }
}
impl Message for Gate {
    type Reply = ();
}
impl Handler<Gate> for Probe {
    async fn handle(&mut self, gate: Gate, _cx: &mut Ctx<Self>) {
        if let Some(entered) = &gate.1 {
            let _ = entered.send(());
        }
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

/// Handles `Job`s, panicking on the ones marked to, and counts every one it starts.
#[derive(Default)]
pub struct Flaky {
    pub handled: Arc<AtomicU64>,
}
impl Actor for Flaky {}

/// Replies with its id, or panics with "job {id} failed".
pub struct Job {
    pub id: u64,
    pub panic: bool,
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

/// The traced actor: its handlers make spans through `cx.tracer()`.
#[derive(Default)]
pub struct Worker {
    /// Where [`Relay`] goes next.
    pub next: Option<ActorRef<Worker>>,
}
impl Actor for Worker {}

/// Awaits a few times, then records an `inner` span with the `tag` attribute; replies with
/// the `tenant` baggage active in the handler (empty if none).
pub struct Work {
    pub awaits: usize,
    pub tag: i64,
}
impl Message for Work {
    type Reply = String;
}
impl Handler<Work> for Worker {
    async fn handle(&mut self, work: Work, cx: &mut Ctx<Self>) -> String {
        for _ in 0..work.awaits {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tokio::task::yield_now().await;
        }
        let mut span = cx.tracer().start("inner");
        span.set_attribute(KeyValue::new("tag", work.tag));
        span.end();
        Context::current()
            .baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

/// Records a `stage <name>` span, then tells (or asks) the next actor in the chain under it.
pub struct Relay {
    pub ask_next: bool,
}
impl Message for Relay {
    type Reply = ();
}
impl Handler<Relay> for Worker {
    async fn handle(&mut self, relay: Relay, cx: &mut Ctx<Self>) {
        let span = cx.tracer().start(format!("stage {}", cx.name()));
        let cx_stage = Context::current_with_span(span);
        if let Some(next) = &self.next {
            let hop = Relay { ask_next: false };
            if relay.ask_next {
                next.ask(hop).with_context(cx_stage.clone()).await.unwrap();
            } else {
                next.tell(hop).with_context(cx_stage.clone()).await.unwrap();
            }
        }
        cx_stage.span().end();
    }
}

/// The error reply of [`Fail::Error`].
#[derive(Debug, thiserror::Error)]
#[error("the input was rejected")]
pub struct Rejected;

/// Fails with an error reply, or panics.
pub enum Fail {
    Error,
    Panic,
}
impl Message for Fail {
    type Reply = Result<(), Rejected>;
}
impl Handler<Fail> for Worker {
    async fn handle(&mut self, fail: Fail, _cx: &mut Ctx<Self>) -> Result<(), Rejected> {
        match fail {
            Fail::Error => Err(Rejected),
            Fail::Panic => panic!("handler exploded"),
        }
    }
}

/// Returns the span context and the `tenant` baggage active in the handler.
pub struct WhatContext;
impl Message for WhatContext {
    type Reply = (SpanContext, String);
}
impl Handler<WhatContext> for Worker {
    async fn handle(&mut self, _: WhatContext, _cx: &mut Ctx<Self>) -> (SpanContext, String) {
        tokio::task::yield_now().await;
        let cx = Context::current();
        let tenant = cx
            .baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .unwrap_or_default();
        (cx.span().span_context().clone(), tenant)
    }
}

/// Tells itself `Countdown(n - 1)` until zero.
pub struct Countdown(pub u32);
impl Message for Countdown {
    type Reply = ();
}
impl Handler<Countdown> for Worker {
    async fn handle(&mut self, Countdown(n): Countdown, cx: &mut Ctx<Self>) {
        if n > 0 {
            cx.myself().tell(Countdown(n - 1)).await.unwrap();
        }
    }
}
