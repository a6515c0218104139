//! The [`Ctx`] side of death watch and links: `watch`, `unwatch`, `link`, `unlink`, and
//! what an actor's thread does with its watchers when it ends.

use std::sync::Arc;

use opentelemetry::Context;

use crate::actor::{Actor, Handler};
use crate::cell::ActorCell;
use crate::ctx::Ctx;
use crate::handle::actor_ref::ActorRef;
use crate::system::report::StopReason;
use crate::watch::deliver::deliver;
use crate::watch::{Kind, Registration, Terminated};

impl<A: Actor> Ctx<A> {
    /// Watches `other`: this actor gets one [`Terminated`] when `other` ends, for any
    /// reason, or at once if it already has. Watching the same actor twice is one watch.
    /// The notice takes a place in the mailbox even when it is full; if this actor has
    /// stopped by then, it is a dead letter. Watches are removed when this actor ends.
    pub fn watch<B: Actor>(&self, other: &ActorRef<B>)
    where
        A: Handler<Terminated>,
    {
        let me = self.myself.clone();
        // The watch call's context: the notice starts a trace linked to it.
        let context = Context::current();
        self.myself
            .cell
            .watch
            .note_watching(&other.cell.watch, Kind::Watch);
        other.cell.watch.register(Registration {
            by: me.cell.id,
            kind: Kind::Watch,
            by_list: Arc::downgrade(&me.cell.watch),
            on_end: Box::new(move |terminated: &Terminated| {
                deliver(&me, terminated.clone(), context);
            }),
        });
    }

    /// Stops watching `other`: no [`Terminated`] for it comes after this call, unless it
    /// had already ended and its notice is queued.
    pub fn unwatch<B: Actor>(&self, other: &ActorRef<B>) {
        other
            .cell
            .watch
            .unregister(self.myself.cell.id, Kind::Watch);
        self.myself
            .cell
            .watch
            .forget_watching(other.cell.id, Some(Kind::Watch));
    }

    /// Links this actor and `other`, Erlang style: when either ends abnormally (anything
    /// but a requested stop, see [`StopReason::is_normal`]), the other is asked to stop
    /// with [`StopReason::LinkFailed`] naming it, which it then passes on to its own
    /// links. The stop is an ordinary one: the queued messages are handled and `stopped`
    /// runs. A normal stop does not propagate. Linking to an actor that already failed
    /// stops this one; linking twice is one link.
    pub fn link<B: Actor>(&self, other: &ActorRef<B>) {
        let mine = &self.myself.cell;
        if mine.id == other.cell.id {
            return;
        }
        let theirs = &other.cell;
        mine.watch.note_watching(&theirs.watch, Kind::Link);
        theirs.watch.note_watching(&mine.watch, Kind::Link);
        mine.watch.register(link_to(theirs));
        theirs.watch.register(link_to(mine));
    }

    /// Removes the link with `other`, both ways.
    pub fn unlink<B: Actor>(&self, other: &ActorRef<B>) {
        let mine = &self.myself.cell;
        let theirs = &other.cell;
        mine.watch.unregister(theirs.id, Kind::Link);
        theirs.watch.unregister(mine.id, Kind::Link);
        mine.watch.forget_watching(theirs.id, Some(Kind::Link));
        theirs.watch.forget_watching(mine.id, Some(Kind::Link));
    }
}

/// The registration (on the other actor's list) that stops `partner` when that actor
/// ends abnormally.
fn link_to(partner: &Arc<ActorCell>) -> Registration {
    let weak = Arc::downgrade(partner);
    Registration {
        by: partner.id,
        kind: Kind::Link,
        by_list: Arc::downgrade(&partner.watch),
        on_end: Box::new(move |terminated: &Terminated| {
            if terminated.reason.is_normal() {
                return;
            }
            if let Some(partner) = weak.upgrade() {
                partner.request_stop_because(StopReason::LinkFailed(terminated.id));
            }
        }),
    }
}

/// What an actor's thread does last with its watch list: record the end (`reason`), tell
/// the watchers, stop the links on failure, and leave the lists of those it watched.
pub(crate) fn end(cell: &ActorCell, reason: StopReason) {
    cell.watch.end(reason);
}
