//! Delivery of a system notification ([`Terminated`](super::Terminated)) into an actor's
//! mailbox: it takes a place even past the capacity (as the actor's own messages do), so a
//! full mailbox never loses it; a mailbox already closed makes it a dead letter.

use opentelemetry::Context;

use crate::actor::Handler;
use crate::dead_letter::DeadLetterReason;
use crate::handle::actor_ref::ActorRef;
use crate::mailbox::envelope::{Envelope, Letter};
use crate::message::Message;

/// Puts `msg` into `to`'s mailbox with `context` as its sender's: captured as timers and
/// streams capture theirs (a self-send linked to `context`), so its `process` span starts a
/// new trace linked to `context` (by default).
pub(crate) fn deliver<A, M>(to: &ActorRef<A>, msg: M, context: Context)
where
    A: Handler<M>,
    M: Message,
{
    let cell = &to.cell;
    let trace = cell
        .settings
        .tracing
        .capture_linked(&cell.destination, &context);
    to.cell.load_add();
    let envelope = Envelope {
        payload: Letter::wrap::<A>(msg, None),
        trace,
    };
    // A self-send's place: never refused for room.
    let reserved = to.tx.try_reserve(true);
    let pushed = reserved.is_ok() && to.tx.push(envelope).is_ok();
    if !pushed {
        to.cell.load_sub();
        to.cell.dead_letter(
            std::any::type_name::<M>(),
            DeadLetterReason::Closed,
            false,
            context,
        );
    }
}
