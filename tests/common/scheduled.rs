//! Actors for the timer and stream tests: [`Timed`] sets timers and reports what fires,
//! [`Consumer`] takes attached streams and records every item, marker and end in order.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use actor_core::{
    Actor, Ctx, Handler, Message, StreamFinished, StreamHandle, StreamId, StreamOutcome,
    TimerHandle,
};
use futures::Stream;

use super::PATIENCE;

/// Sets timers when told to and sends an event (a line of text) for everything that
/// happens to it: `started`, `fired`, `tick N`, `check`, `stopped …`.
pub struct Timed {
    pub events: mpsc::Sender<String>,
    pub timers: Vec<TimerHandle>,
    pub ticks: u32,
    pub cancel_at: u32,
}

impl Timed {
    pub fn new(events: mpsc::Sender<String>) -> Self {
        Timed {
            events,
            timers: Vec::new(),
            ticks: 0,
            cancel_at: u32::MAX,
        }
    }

    fn event(&self, what: impl Into<String>) {
        let _ = self.events.send(what.into());
    }

    fn active(&self) -> Vec<bool> {
        self.timers.iter().map(TimerHandle::is_active).collect()
    }
}

impl Actor for Timed {
    async fn started(&mut self, _cx: &mut Ctx<Self>) {
        self.event("started");
    }

    async fn stopped(&mut self, _cx: &mut Ctx<Self>) {
        self.event(format!("stopped active={:?}", self.active()));
    }
}

/// Sets a one-shot timer: [`Fired`] after the delay.
pub struct After(pub Duration);
impl Message for After {
    type Reply = ();
}
impl Handler<After> for Timed {
    async fn handle(&mut self, After(delay): After, cx: &mut Ctx<Self>) {
        self.timers.push(cx.send_after(Fired, delay));
    }
}

/// What a one-shot timer sends.
pub struct Fired;
impl Message for Fired {
    type Reply = ();
}
impl Handler<Fired> for Timed {
    async fn handle(&mut self, _: Fired, _cx: &mut Ctx<Self>) {
        self.event("fired");
    }
}

/// Sets an interval of [`Tick`]s, cancelled by the `cancel_at`-th tick.
pub struct Every {
    pub period: Duration,
    pub cancel_at: u32,
}
impl Message for Every {
    type Reply = ();
}
impl Handler<Every> for Timed {
    async fn handle(&mut self, every: Every, cx: &mut Ctx<Self>) {
        self.cancel_at = every.cancel_at;
        self.timers.push(cx.send_interval(every.period, || Tick));
    }
}

/// What an interval sends. The `cancel_at`-th cancels every timer and sets a [`Check`]
/// 50 ms later: a tick still coming would be handled before it.
pub struct Tick;
impl Message for Tick {
    type Reply = ();
}
impl Handler<Tick> for Timed {
    async fn handle(&mut self, _: Tick, cx: &mut Ctx<Self>) {
        self.ticks += 1;
        self.event(format!("tick {}", self.ticks));
        if self.ticks == self.cancel_at {
            for timer in &self.timers {
                timer.cancel();
            }
            self.event(format!("cancelled active={:?}", self.active()));
            cx.send_after(Check, Duration::from_millis(50));
        }
    }
}

/// Sets a [`Check`] after the delay.
pub struct CheckAfter(pub Duration);
impl Message for CheckAfter {
    type Reply = ();
}
impl Handler<CheckAfter> for Timed {
    async fn handle(&mut self, CheckAfter(delay): CheckAfter, cx: &mut Ctx<Self>) {
        cx.send_after(Check, delay);
    }
}

/// Says `check` (with whether each timer is active).
pub struct Check;
impl Message for Check {
    type Reply = ();
}
impl Handler<Check> for Timed {
    async fn handle(&mut self, _: Check, _cx: &mut Ctx<Self>) {
        self.event(format!("check active={:?}", self.active()));
    }
}

/// Cancels every timer (twice: the second is harmless too).
pub struct CancelAll;
impl Message for CancelAll {
    type Reply = Vec<bool>;
}
impl Handler<CancelAll> for Timed {
    async fn handle(&mut self, _: CancelAll, _cx: &mut Ctx<Self>) -> Vec<bool> {
        for timer in &self.timers {
            timer.cancel();
            timer.cancel();
        }
        self.active()
    }
}

/// Sets a one-shot timer, then panics: the restart cancels it.
pub struct ScheduleThenPanic(pub Duration);
impl Message for ScheduleThenPanic {
    type Reply = ();
}
impl Handler<ScheduleThenPanic> for Timed {
    async fn handle(&mut self, ScheduleThenPanic(delay): ScheduleThenPanic, cx: &mut Ctx<Self>) {
        self.timers.push(cx.send_after(Fired, delay));
        panic!("scheduled a timer, then panicked");
    }
}

/// Sets a timer of no delay, waits (yielding to the actor's other tasks) until its
/// [`Fired`] is in the mailbox, then cancels it: the queued `Fired` must be discarded.
pub struct CancelWhileQueued;
impl Message for CancelWhileQueued {
    type Reply = ();
}
impl Handler<CancelWhileQueued> for Timed {
    async fn handle(&mut self, _: CancelWhileQueued, cx: &mut Ctx<Self>) {
        let timer = cx.send_after(Fired, Duration::ZERO);
        let deadline = std::time::Instant::now() + PATIENCE;
        while cx.myself().load() == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.event(format!("queued {}", cx.myself().load()));
        timer.cancel();
        self.event(format!("cancelled active={}", timer.is_active()));
        cx.send_after(Check, Duration::from_millis(20));
    }
}

/// Whether each timer is active.
pub struct Active;
impl Message for Active {
    type Reply = Vec<bool>;
}
impl Handler<Active> for Timed {
    async fn handle(&mut self, _: Active, _cx: &mut Ctx<Self>) -> Vec<bool> {
        self.active()
    }
}

/// The next event of a [`Timed`], within [`PATIENCE`].
pub fn next_event(events: &mpsc::Receiver<String>) -> String {
    events
        .recv_timeout(PATIENCE)
        .expect("an event from the timed actor")
}

/// Events until (and with) the first that starts with `last`.
pub fn events_until(events: &mpsc::Receiver<String>, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(events);
        let done = event.starts_with(last);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// An item of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item(pub u64);
impl Message for Item {
    type Reply = ();
}

/// A message from outside, between the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker(pub u64);
impl Message for Marker {
    type Reply = ();
}

/// What a [`Consumer`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Item(u64),
    Marker(u64),
    Finished(StreamId, StreamOutcome),
}

/// A boxed stream of items, to send in a message.
pub type Items = Pin<Box<dyn Stream<Item = Item> + Send>>;
/// A boxed stream of results, to send in a message.
pub type TryItems = Pin<Box<dyn Stream<Item = Result<Item, String>> + Send>>;

/// Takes attached streams and records what it sees. Shared counters survive restarts.
#[derive(Default)]
pub struct Consumer {
    pub seen: Vec<Got>,
    /// The most messages found queued in the mailbox while an item was handled.
    pub max_load: usize,
    /// Items handled, across restarts.
    pub handled: Arc<AtomicU64>,
    /// Told the stream's end.
    pub finished: Option<mpsc::Sender<StreamFinished>>,
    /// Told when item `at` is handled.
    pub reached: Option<(u64, mpsc::Sender<()>)>,
    /// Fired when marker `at` is handled.
    pub gate: Option<(u64, futures::channel::oneshot::Sender<()>)>,
    /// Detach the stream at this item, and say how many items were polled then.
    pub detach_at: Option<(u64, Arc<AtomicU64>, mpsc::Sender<u64>)>,
    /// Panic at this item (once: the counter says whether it did).
    pub panic_at: Option<(u64, Arc<AtomicU64>)>,
    /// Stop at this item.
    pub stop_at: Option<u64>,
    /// Check that no more than this many items are in flight (polled and not handled).
    pub window: Option<(Arc<AtomicU64>, u64)>,
    pub handle: Option<StreamHandle>,
}

impl Actor for Consumer {}

impl Handler<Item> for Consumer {
    async fn handle(&mut self, Item(n): Item, cx: &mut Ctx<Self>) {
        self.max_load = self.max_load.max(cx.myself().load());
        if let Some((polled, window)) = &self.window {
            let in_flight = polled.load(Ordering::SeqCst) - self.handled.load(Ordering::SeqCst);
            assert!(in_flight <= *window, "{in_flight} items in flight");
        }
        self.handled.fetch_add(1, Ordering::SeqCst);
        self.seen.push(Got::Item(n));
        if let Some((at, tx)) = &self.reached {
            if n == *at {
                let _ = tx.send(());
            }
        }
        if let Some((at, polled, tx)) = &self.detach_at {
            if n == *at {
                if let Some(handle) = &self.handle {
                    handle.detach();
                }
                let _ = tx.send(polled.load(Ordering::SeqCst));
            }
        }
        if let Some((at, panics)) = &self.panic_at {
            if n == *at && panics.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("item {n}");
            }
        }
        if self.stop_at == Some(n) {
            cx.stop();
        }
    }
}

impl Handler<Marker> for Consumer {
    async fn handle(&mut self, Marker(n): Marker, cx: &mut Ctx<Self>) {
        self.max_load = self.max_load.max(cx.myself().load());
        self.seen.push(Got::Marker(n));
        if self.gate.as_ref().is_some_and(|(at, _)| *at == n) {
            if let Some((_, gate)) = self.gate.take() {
                let _ = gate.send(());
            }
        }
    }
}

impl Handler<StreamFinished> for Consumer {
    async fn handle(&mut self, end: StreamFinished, _cx: &mut Ctx<Self>) {
        self.seen.push(Got::Finished(end.id, end.outcome.clone()));
        if let Some(tx) = &self.finished {
            let _ = tx.send(end);
        }
    }
}

/// Attaches a stream of items; replies with its id.
pub struct Attach(pub Items);
impl Message for Attach {
    type Reply = StreamId;
}
impl Handler<Attach> for Consumer {
    async fn handle(&mut self, Attach(items): Attach, cx: &mut Ctx<Self>) -> StreamId {
        let handle = cx.attach_stream(items);
        let id = handle.id();
        self.handle = Some(handle);
        id
    }
}

/// Attaches a stream of results; replies with its id.
pub struct AttachTry(pub TryItems);
impl Message for AttachTry {
    type Reply = StreamId;
}
impl Handler<AttachTry> for Consumer {
    async fn handle(&mut self, AttachTry(items): AttachTry, cx: &mut Ctx<Self>) -> StreamId {
        let handle = cx.attach_try_stream(items);
        let id = handle.id();
        self.handle = Some(handle);
        id
    }
}

/// What the consumer saw so far, its highest load, and whether its stream is attached.
pub struct Record;
impl Message for Record {
    type Reply = (Vec<Got>, usize, Option<bool>);
}
impl Handler<Record> for Consumer {
    async fn handle(&mut self, _: Record, _cx: &mut Ctx<Self>) -> (Vec<Got>, usize, Option<bool>) {
        (
            self.seen.clone(),
            self.max_load,
            self.handle.as_ref().map(StreamHandle::is_attached),
        )
    }
}
