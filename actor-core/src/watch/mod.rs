//! Death watch and links: who is told when an actor ends ([`WatchList`], kept in every
//! actor's cell) and what they are told ([`Terminated`]).
//!
//! The end of an actor and a new registration take the same lock: a registration made
//! after the end fires at once, one made before fires at the end, never both, never
//! neither. `ctx.rs` (the `Ctx` methods) builds the registrations; the actor's thread ends
//! the list as its last act ([`end`](ctx::end)).

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::info::ActorId;
use crate::message::Message;
use crate::system::report::StopReason;

pub(crate) mod ctx;
mod deliver;

/// Sent to an actor that [watches](crate::Ctx::watch) another when that one ends, for any
/// reason (stop, kill, failure beyond its restart limit, shutdown, system drop, or it never
/// started). Exactly one per watch; at once when the watched actor had already ended.
///
/// Its `process` span starts a new trace *linked* to the span that was current at the
/// `watch` call, as self-sends do: the watcher's reaction is traced, without joining the
/// dying actor's trace or growing the watcher's.
#[derive(Debug, Clone)]
pub struct Terminated {
    /// The actor that ended.
    pub id: ActorId,
    /// Its name.
    pub name: Arc<str>,
    /// Why it ended.
    pub reason: StopReason,
}

impl Message for Terminated {
    type Reply = ();
}

/// What a registration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Deliver a [`Terminated`] to the watcher.
    Watch,
    /// Stop the partner with [`StopReason::LinkFailed`] when this actor ends abnormally.
    Link,
}

/// What runs when the watched actor ends (on its thread, outside every lock).
pub(crate) type OnEnd = Box<dyn FnOnce(&Terminated) + Send>;

/// One registration on a watched actor.
pub(crate) struct Registration {
    /// The actor told (watcher or link partner).
    pub(crate) by: ActorId,
    pub(crate) kind: Kind,
    /// The watcher's own list, to forget the watched actor there once it has ended.
    pub(crate) by_list: Weak<WatchList>,
    pub(crate) on_end: OnEnd,
}

/// Whether the actor still runs (and who waits for its end) or has ended.
enum State {
    Alive(Vec<Registration>),
    Ended(StopReason),
}

struct Inner {
    state: State,
    /// Actors this one watches or is linked to: its registrations there are removed when
    /// it ends, so a watcher that stops leaves nothing behind.
    watching: Vec<(ActorId, Kind, Weak<WatchList>)>,
}

/// One actor's watchers and links, and what it watches itself.
pub(crate) struct WatchList {
    id: ActorId,
    name: Arc<str>,
    inner: Mutex<Inner>,
}

impl WatchList {
    pub(crate) fn new(id: ActorId, name: Arc<str>) -> Self {
        WatchList {
            id,
            name,
            inner: Mutex::new(Inner {
                state: State::Alive(Vec::new()),
                watching: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change under this lock is a single push or removal: never half done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The notice of this actor's end for `reason`.
    fn terminated(&self, reason: StopReason) -> Terminated {
        Terminated {
            id: self.id,
            name: self.name.clone(),
            reason,
        }
    }

    /// Adds a registration. A second one from the same actor for the same purpose is
    /// ignored (one notice per watch). When this actor has already ended, the
    /// registration runs at once, here.
    pub(crate) fn register(&self, registration: Registration) {
        let ended = {
            let mut inner = self.lock();
            match &mut inner.state {
                State::Alive(registrations) => {
                    if !registrations
                        .iter()
                        .any(|r| r.by == registration.by && r.kind == registration.kind)
                    {
                        registrations.push(registration);
                    }
                    return;
                }
                State::Ended(reason) => *reason,
            }
        };
        (registration.on_end)(&self.terminated(ended));
    }

    /// Removes the registration of actor `by` for `kind`, if any.
    pub(crate) fn unregister(&self, by: ActorId, kind: Kind) {
        if let State::Alive(registrations) = &mut self.lock().state {
            registrations.retain(|r| !(r.by == by && r.kind == kind));
        }
    }

    /// Notes that this actor registered on `other` for `kind`.
    pub(crate) fn note_watching(&self, other: &Arc<WatchList>, kind: Kind) {
        let mut inner = self.lock();
        if !inner
            .watching
            .iter()
            .any(|(id, k, _)| *id == other.id && *k == kind)
        {
            inner.watching.push((other.id, kind, Arc::downgrade(other)));
        }
    }

    /// Forgets that this actor registered on `other` for `kind` (or for anything, `None`).
    pub(crate) fn forget_watching(&self, other: ActorId, kind: Option<Kind>) {
        self.lock()
            .watching
            .retain(|(id, k, _)| !(*id == other && kind.is_none_or(|kind| kind == *k)));
    }

    /// Records the end (`reason`) under the lock, then, outside it: runs every
    /// registration, and removes this actor's own registrations from the actors it
    /// watched. Runs once; later registrations fire at once.
    pub(crate) fn end(&self, reason: StopReason) {
        let (registrations, watching) = {
            let mut inner = self.lock();
            let state = std::mem::replace(&mut inner.state, State::Ended(reason));
            let registrations = match state {
                State::Alive(registrations) => registrations,
                State::Ended(_) => Vec::new(),
            };
            (registrations, std::mem::take(&mut inner.watching))
        };
        for (_, kind, list) in watching {
            if let Some(list) = list.upgrade() {
                list.unregister(self.id, kind);
            }
        }
        let terminated = self.terminated(reason);
        for registration in registrations {
            if let Some(by_list) = registration.by_list.upgrade() {
                by_list.forget_watching(self.id, Some(registration.kind));
            }
            let on_end = registration.on_end;
            // A notice that panics (a dead-letter handler) must not stop the others.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_end(&terminated)));
        }
    }

    /// How many registrations wait for this actor's end (0 once it ended).
    #[cfg(test)]
    pub(crate) fn registrations(&self) -> usize {
        match &self.lock().state {
            State::Alive(registrations) => registrations.len(),
            State::Ended(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(by: u64, kind: Kind, count: &Arc<AtomicUsize>) -> Registration {
        let count = count.clone();
        Registration {
            by: ActorId(by),
            kind,
            by_list: Weak::new(),
            on_end: Box::new(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            }),
        }
    }

    #[test]
    fn a_registration_fires_once_before_or_after_the_end() {
        let list = WatchList::new(ActorId(1), "a".into());
        let count = Arc::new(AtomicUsize::new(0));
        list.register(counting(2, Kind::Watch, &count));
        list.register(counting(2, Kind::Watch, &count));
        assert_eq!(list.registrations(), 1, "a second watch is the same watch");
        list.end(StopReason::Failed);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        list.register(counting(3, Kind::Watch, &count));
        assert_eq!(count.load(Ordering::SeqCst), 2, "after the end: at once");
        list.end(StopReason::Failed);
        assert_eq!(count.load(Ordering::SeqCst), 2, "the end runs once");
    }

    #[test]
    fn unregistered_does_not_fire_and_the_ender_leaves_nothing_behind() {
        let watched = Arc::new(WatchList::new(ActorId(1), "a".into()));
        let watcher = Arc::new(WatchList::new(ActorId(2), "b".into()));
        let count = Arc::new(AtomicUsize::new(0));
        watched.register(counting(2, Kind::Watch, &count));
        watcher.note_watching(&watched, Kind::Watch);
        watched.unregister(ActorId(2), Kind::Watch);
        assert_eq!(watched.registrations(), 0);
        watched.register(counting(2, Kind::Link, &count));
        watcher.note_watching(&watched, Kind::Link);
        watcher.end(StopReason::Requested);
        assert_eq!(
            watched.registrations(),
            0,
            "the ended watcher left nothing behind"
        );
        watched.end(StopReason::Failed);
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }
}
