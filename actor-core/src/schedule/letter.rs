//! The message a timer or stream sends: a self-send, its place in the mailbox already taken,
//! linked to the span that scheduled it, and tied to its [`Mark`] (a cancelled timer's tick
//! still queued is discarded; a stream learns when its items are handled).

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::future::LocalBoxFuture;
use futures::FutureExt;
use opentelemetry::Context;
use smallbox::smallbox;

use crate::actor::Handler;
use crate::ctx::Ctx;
use crate::handle::actor_ref::ActorRef;
use crate::mailbox::envelope::{panic_text, Envelope, Payload, PayloadBox};
use crate::mailbox::NoRoom;
use crate::message::Message;
use crate::reply::Reply;
use crate::schedule::mark::Mark;
use crate::trace::outcome::Outcome;

/// A scheduled message and the mark of the timer or stream that sent it.
struct Marked<M> {
    msg: Option<M>,
    mark: Arc<Mark>,
}

impl<M> Drop for Marked<M> {
    /// Handled, discarded or dropped with the mailbox: the sender's count goes down.
    fn drop(&mut self) {
        self.mark.taken();
    }
}

impl<A: Handler<M>, M: Message> Payload<A> for Marked<M> {
    fn handle<'a>(&mut self, actor: &'a mut A, cx: &'a mut Ctx<A>) -> LocalBoxFuture<'a, Outcome> {
        // Cancelled after it was queued (by `cancel`, a restart or a stop): not handled.
        let msg = self.msg.take().filter(|_| !self.mark.discards());
        Box::pin(async move {
            let Some(msg) = msg else {
                return Outcome::default();
            };
            let run = AssertUnwindSafe(async move { actor.handle(msg, cx).await });
            match run.catch_unwind().await {
                Ok(answer) => Outcome::replied(answer.error()),
                Err(panic) => Outcome::panicked(panic_text(panic.as_ref())),
            }
        })
    }

    fn is_ask(&self) -> bool {
        false
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<M>()
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// Sends `msg` to `myself` on behalf of the timer or stream `mark`, as a self-send whose
/// trace is linked to `link`; `reserved` is how taking its place went. A message that
/// cannot go in is a dead letter (with `link` as its context), never dropped silently.
/// `true` when it is in the mailbox.
pub(crate) fn deliver<A, M>(
    myself: &ActorRef<A>,
    msg: M,
    mark: &Arc<Mark>,
    link: &Context,
    reserved: Result<(), NoRoom>,
) -> bool
where
    A: Handler<M>,
    M: Message,
{
    let cell = &myself.cell;
    mark.sent();
    let payload: PayloadBox<A> = smallbox!(Marked {
        msg: Some(msg),
        mark: mark.clone(),
    });
    let sent = match reserved {
        Ok(()) => {
            cell.load_add();
            let trace = cell
                .settings
                .tracing
                .capture_linked(&cell.destination, link);
            let pushed = myself.tx.push(Envelope { payload, trace });
            if pushed.is_err() {
                cell.load_sub();
            }
            pushed.map_err(|refused| refused.why)
        }
        Err(why) => Err(why),
    };
    if let Some(counts) = &cell.sent {
        counts.count(sent);
    }
    match sent {
        Ok(()) => true,
        Err(why) => {
            let reason = why.dead_letter_reason();
            cell.dead_letter(std::any::type_name::<M>(), reason, false, link.clone());
            false
        }
    }
}
