//! The shared, type-independent part of an actor: identity, stop flag, counters.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::mailbox::Room;
use crate::telemetry::Tracing;

/// A unique actor id within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(pub(crate) u64);

impl ActorId {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ActorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How far an actor got in starting (its first state built and `started` run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Startup {
    Starting,
    Running,
    /// Why it never started.
    Failed(Arc<str>),
}

/// Per-system settings every actor reference reads on its send path.
pub(crate) struct SystemShared {
    pub name: Arc<str>,
    pub tracing: Tracing,
    pub ask_timeout: Option<Duration>,
    /// Longest spin before parking or awaiting a reply (zero: never spin).
    pub spin: Duration,
}

/// State shared by every reference to one actor and by its receive loop.
pub(crate) struct ActorCell {
    pub id: ActorId,
    pub name: Arc<str>,
    pub system: Arc<SystemShared>,
    /// `send <name>`, made once (only when spans are on).
    pub send_span_name: std::borrow::Cow<'static, str>,
    /// The name as a span attribute value (interned: no allocation, no shared count per span).
    pub name_value: opentelemetry::Value,
    stop_requested: AtomicBool,
    /// The places of a bounded mailbox: a stop request ends every wait for one.
    room: Option<Arc<Room>>,
    /// Whether the actor started, for [`ActorRef::wait_started`](crate::ActorRef::wait_started).
    pub startup: tokio::sync::watch::Receiver<Startup>,
    /// Wakes a parked receive loop when a stop is requested.
    pub wake: Notify,
    next_message_id: AtomicU64,
    /// The last ask round trip to this actor, in ns: asks spin for the reply while it is short.
    recent_rtt_ns: AtomicU64,
    /// Messages sent and not yet handled; kept only for pool members (least-loaded dispatch).
    load: Option<AtomicUsize>,
}

impl ActorCell {
    pub fn new(
        id: ActorId,
        name: Arc<str>,
        system: Arc<SystemShared>,
        room: Option<Arc<Room>>,
        startup: tokio::sync::watch::Receiver<Startup>,
        track_load: bool,
    ) -> Self {
        let (send_span_name, name_value) = if system.tracing.instrumentation.is_some() {
            (
                crate::names::intern(format!("send {name}")),
                crate::names::attribute_value(&name),
            )
        } else {
            (std::borrow::Cow::Borrowed("send"), name.clone().into())
        };
        ActorCell {
            id,
            name,
            system,
            send_span_name,
            name_value,
            stop_requested: AtomicBool::new(false),
            room,
            startup,
            wake: Notify::new(),
            next_message_id: AtomicU64::new(1),
            recent_rtt_ns: AtomicU64::new(0),
            load: track_load.then(|| AtomicUsize::new(0)),
        }
    }

    /// Asks the receive loop to stop: refuse new messages, drain the queued ones, stop.
    /// Senders waiting for room get their messages back at once.
    pub fn request_stop(&self) {
        self.stop_requested.store(true, Ordering::Release);
        if let Some(room) = &self.room {
            room.close();
        }
        self.wake.notify_one();
    }

    /// Whether a stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::Acquire)
    }

    /// A fresh `messaging.message.id` for a message to this actor.
    pub fn next_message_id(&self) -> u64 {
        self.next_message_id.fetch_add(1, Ordering::Relaxed)
    }

    /// How long an ask should spin for its reply before awaiting it.
    pub fn ask_spin(&self) -> Duration {
        let limit = self.system.spin;
        let recent = Duration::from_nanos(self.recent_rtt_ns.load(Ordering::Relaxed));
        if recent <= limit {
            limit
        } else {
            Duration::ZERO
        }
    }

    /// Records an ask's round trip.
    pub fn record_rtt(&self, rtt: Duration) {
        let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        self.recent_rtt_ns.store(ns, Ordering::Relaxed);
    }

    /// Counts a message into the load (pool members only).
    pub fn load_add(&self) {
        if let Some(load) = &self.load {
            load.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a handled or returned message out of the load (pool members only).
    pub fn load_sub(&self) {
        if let Some(load) = &self.load {
            load.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Messages queued or in progress (pool members only; 0 otherwise).
    pub fn load(&self) -> usize {
        self.load
            .as_ref()
            .map_or(0, |load| load.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::TracingOptions;

    fn cell(spin: Duration) -> ActorCell {
        let system = Arc::new(SystemShared {
            name: "test".into(),
            tracing: Tracing::new(TracingOptions::default(), None),
            ask_timeout: None,
            spin,
        });
        let (_startup, startup) = tokio::sync::watch::channel(Startup::Starting);
        ActorCell::new(ActorId(1), "a".into(), system, None, startup, false)
    }

    #[test]
    fn asks_spin_again_once_round_trips_are_short_again() {
        let cell = cell(Duration::from_micros(20));
        assert_eq!(cell.ask_spin(), Duration::from_micros(20));
        cell.record_rtt(Duration::from_millis(3));
        assert_eq!(
            cell.ask_spin(),
            Duration::ZERO,
            "a slow actor is not spun for"
        );
        cell.record_rtt(Duration::from_micros(4));
        assert_eq!(cell.ask_spin(), Duration::from_micros(20));
    }

    #[test]
    fn no_spin_when_turned_off() {
        let cell = cell(Duration::ZERO);
        cell.record_rtt(Duration::from_nanos(1));
        assert_eq!(cell.ask_spin(), Duration::ZERO);
    }
}
