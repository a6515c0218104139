//! The shared, type-independent part of an actor: identity, stop flag, counters.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use opentelemetry::Context;

use crate::actor_thread::spin::AskSpin;
use crate::dead_letter::{DeadLetter, DeadLetterReason};
use crate::info::ActorId;
use crate::mailbox::room::Room;
use crate::metrics::SentCounts;
use crate::system::report::{ActorReport, StopReason};
use crate::system::settings::Settings;
use crate::trace::send::Destination;
use crate::watch::WatchList;

/// How far an actor got in starting (its first state built and `started` run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Startup {
    Starting,
    Running,
    /// Why it never started.
    Failed(Arc<str>),
}

/// Control bit: stop after draining the mailbox.
const STOP: u8 = 1;
/// Control bit: stop after the message in hand, without draining.
const KILL: u8 = 2;

/// The control requests of an actor, as read once by its receive loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Control(u8);

impl Control {
    /// A stop (or a kill) was requested.
    pub(crate) fn stop(self) -> bool {
        self.0 & STOP != 0
    }

    /// A kill was requested.
    pub(crate) fn kill(self) -> bool {
        self.0 & KILL != 0
    }
}

/// Control bit, taken once seen: the parent's strategy asks this actor to restart
/// (gracefully, between messages).
pub(crate) const RESTART: u8 = 4;
/// Control bit, taken once seen: a child failed beyond this actor's restart intensity; it
/// must fail.
pub(crate) const ESCALATED: u8 = 8;
/// The bits the supervision tree sets and the receive loop takes.
const TREE: u8 = RESTART | ESCALATED;

/// State shared by every reference to one actor and by its receive loop.
pub(crate) struct ActorCell {
    pub(crate) id: ActorId,
    pub(crate) name: Arc<str>,
    /// The system's settings (the send path reads tracing, ask timeout and spin here).
    pub(crate) settings: Arc<Settings>,
    /// What the `send` spans say about this actor.
    pub(crate) destination: Destination,
    /// Control requests, outside the mailbox: [`STOP`] and [`KILL`] (they stay set), and
    /// the tree's [`RESTART`] and [`ESCALATED`] (taken by the receive loop).
    control: AtomicU8,
    /// The places of a bounded mailbox: a stop request ends every wait for one.
    room: Option<Arc<Room>>,
    /// Whether the actor started, for [`ActorRef::wait_started`](crate::ActorRef::wait_started).
    pub(crate) startup: tokio::sync::watch::Sender<Startup>,
    /// Wakes a parked receive loop when a stop is requested.
    pub(crate) wake: Notify,
    /// Whether asks to this actor spin for their replies (and the actor after serving them).
    pub(crate) asks: AskSpin,
    /// Messages sent and not yet handled; kept only for pool members (least-loaded dispatch).
    load: Option<AtomicUsize>,
    /// How sends to this actor ended, when metrics are on.
    pub(crate) sent: Option<Arc<SentCounts>>,
    /// Messages for this actor that reached no handler.
    dead_letters: AtomicU64,
    /// The actor's final report, once its thread has finished.
    pub(crate) ended: tokio::sync::watch::Sender<Option<Arc<ActorReport>>>,
    /// Who is told when this actor ends, and whom it watches (see [`crate::watch`]).
    pub(crate) watch: Arc<WatchList>,
    /// Why a stop was requested, when it is not an ordinary stop (a linked actor failed).
    /// Read once, when the loop ends.
    stop_reason: Mutex<Option<StopReason>>,
    /// Graceful restarts done (the one-for-all order waits for each).
    pub(crate) restarted: tokio::sync::watch::Sender<u64>,
}

impl ActorCell {
    pub(crate) fn new(
        id: ActorId,
        name: Arc<str>,
        settings: Arc<Settings>,
        room: Option<Arc<Room>>,
        track_load: bool,
    ) -> Self {
        let destination = Destination::new(&name, settings.tracing.instrumented());
        let spin = settings.spin;
        let sent = settings
            .tracing
            .metered()
            .then(|| Arc::new(SentCounts::default()));
        ActorCell {
            id,
            name: name.clone(),
            settings,
            destination,
            control: AtomicU8::new(0),
            room,
            startup: tokio::sync::watch::Sender::new(Startup::Starting),
            wake: Notify::new(),
            asks: AskSpin::new(spin),
            load: track_load.then(|| AtomicUsize::new(0)),
            sent,
            dead_letters: AtomicU64::new(0),
            ended: tokio::sync::watch::Sender::new(None),
            watch: Arc::new(WatchList::new(id, name)),
            stop_reason: Mutex::new(None),
            restarted: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Records a message for this actor that reached no handler: counted here and in the
    /// system, and handed to the system's dead-letter handler.
    pub(crate) fn dead_letter(
        &self,
        message_type: &'static str,
        reason: DeadLetterReason,
        returned: bool,
        context: Context,
    ) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.settings.dead_letters.post(&DeadLetter {
            actor: self.id,
            actor_name: self.name.clone(),
            message_type,
            reason,
            returned,
            context,
        });
    }

    /// Messages for this actor that reached no handler so far.
    pub(crate) fn dead_letter_count(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }

    /// Records the actor's final report: its thread has finished. Wakes everyone waiting
    /// for its end.
    pub(crate) fn set_ended(&self, report: &ActorReport) {
        self.ended.send_replace(Some(Arc::new(report.clone())));
    }

    /// The places of a bounded mailbox (`None`: unbounded).
    pub(crate) fn room(&self) -> Option<&Arc<Room>> {
        self.room.as_ref()
    }

    /// Asks the receive loop to stop: refuse new messages, drain the queued ones, stop.
    /// Senders waiting for room get their messages back at once.
    pub(crate) fn request_stop(&self) {
        self.request(STOP);
    }

    /// Asks the receive loop to end after the message in hand: new messages are refused,
    /// the queued ones go to the dead letters. Overrides a stop request's drain.
    pub(crate) fn request_kill(&self) {
        self.request(STOP | KILL);
    }

    fn request(&self, bits: u8) {
        self.control.fetch_or(bits, Ordering::AcqRel);
        if let Some(room) = &self.room {
            room.close();
        }
        self.wake.notify_one();
    }

    /// Asks the receive loop to stop like [`request_stop`](ActorCell::request_stop), and
    /// to report `reason` (the first one given wins).
    pub(crate) fn request_stop_because(&self, reason: StopReason) {
        {
            let mut why = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
            why.get_or_insert(reason);
        }
        self.request_stop();
    }

    /// The reason given with the stop request, if one was.
    pub(crate) fn stop_reason(&self) -> Option<StopReason> {
        *self.stop_reason.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a control flag ([`RESTART`], [`ESCALATED`]) and wakes the receive loop.
    pub(crate) fn request_control(&self, flag: u8) {
        debug_assert_eq!(flag & !TREE, 0, "only the tree's bits are taken");
        self.control.fetch_or(flag, Ordering::Release);
        self.wake.notify_one();
    }

    /// Takes the tree's control flags set since the last look (one relaxed load when none
    /// is); the stop and kill bits stay.
    #[inline]
    pub(crate) fn take_control(&self) -> u8 {
        if self.control.load(Ordering::Relaxed) & TREE == 0 {
            return 0;
        }
        self.control.fetch_and(!TREE, Ordering::Acquire) & TREE
    }

    /// Whether a stop (or a kill) was requested.
    pub(crate) fn stop_requested(&self) -> bool {
        self.control.load(Ordering::Acquire) & STOP != 0
    }

    /// The control requests so far, read once (see [`Control`]).
    pub(crate) fn control(&self) -> Control {
        Control(self.control.load(Ordering::Acquire))
    }

    /// Counts a message into the load (pool members only).
    pub(crate) fn load_add(&self) {
        if let Some(load) = &self.load {
            load.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a handled or returned message out of the load (pool members only).
    pub(crate) fn load_sub(&self) {
        if let Some(load) = &self.load {
            load.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Messages queued or in progress (pool members only; 0 otherwise).
    pub(crate) fn load(&self) -> usize {
        self.load
            .as_ref()
            .map_or(0, |load| load.load(Ordering::Relaxed))
    }
}
