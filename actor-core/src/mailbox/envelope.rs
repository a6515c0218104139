//! What travels through a mailbox: a type-erased message, its reply slot and its trace.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures::future::LocalBoxFuture;
use futures::FutureExt;
use smallbox::{smallbox, SmallBox};

use crate::actor::{Actor, Handler};
use crate::ctx::Ctx;
use crate::message::Message;
use crate::reply::Reply;
use crate::trace::meta::TraceMeta;
use crate::trace::outcome::Outcome;

/// Why an ask got no reply from the actor's side.
pub(crate) enum Failure {
    Panicked(String),
}

/// The reply slot of an ask.
pub(crate) type ReplyTx<R> = oneshot::Sender<Result<R, Failure>>;

/// Where a payload lives: inline in the envelope when it fits in 24 bytes (a message of up to
/// 16 bytes with its reply slot, or a 24-byte one with a niche, like a `String`), on the heap
/// otherwise. Inline payloads spare an allocation on the sender's thread that would be freed
/// on the actor's thread, the costliest pattern for the allocator; a larger inline space
/// would make every envelope longer, and each envelope crosses between cores.
pub(crate) type PayloadBox<A> = SmallBox<dyn Payload<A>, Inline>;

/// The inline space of a [`PayloadBox`]: three words.
type Inline = [usize; 3];

/// A message for actor `A`, with everything the receive loop needs.
pub(crate) struct Envelope<A: Actor> {
    pub(crate) payload: PayloadBox<A>,
    pub(crate) trace: TraceMeta,
}

/// A message of some type `M` that `A` handles, with its reply slot.
pub(crate) trait Payload<A: Actor>: Send {
    /// Takes the message out and runs the handler on it; catches a panic, sends the reply.
    fn handle<'a>(&mut self, actor: &'a mut A, cx: &'a mut Ctx<A>) -> LocalBoxFuture<'a, Outcome>;
    /// Whether this is an ask: its sender waits for the reply (and likely sends again right
    /// after).
    fn is_ask(&self) -> bool;
    /// The Rust type name of the message.
    fn message_type(&self) -> &'static str;
    /// For handing an undelivered message back to its sender.
    fn as_any(&mut self) -> &mut dyn Any;
}

/// The concrete payload: a message and, for an ask, where its reply goes.
pub(crate) struct Letter<M: Message> {
    msg: Option<M>,
    reply: Option<ReplyTx<M::Reply>>,
}

impl<M: Message> Letter<M> {
    /// Wraps a message (and the reply slot of an ask) for actor `A`.
    pub(crate) fn wrap<A: Handler<M>>(msg: M, reply: Option<ReplyTx<M::Reply>>) -> PayloadBox<A> {
        smallbox!(Letter {
            msg: Some(msg),
            reply
        })
    }

    /// Takes the message out of an envelope that came back undelivered.
    pub(crate) fn unwrap_from<A: Actor>(mut payload: PayloadBox<A>) -> M {
        payload
            .as_any()
            .downcast_mut::<Letter<M>>()
            .and_then(|letter| letter.msg.take())
            .expect("an undelivered envelope returns unopened to the sender that made it")
    }
}

impl<A: Handler<M>, M: Message> Payload<A> for Letter<M> {
    fn handle<'a>(&mut self, actor: &'a mut A, cx: &'a mut Ctx<A>) -> LocalBoxFuture<'a, Outcome> {
        let msg = self.msg.take();
        let reply = self.reply.take();
        Box::pin(async move {
            let Some(msg) = msg else {
                return Outcome::default();
            };
            let run = AssertUnwindSafe(async move { actor.handle(msg, cx).await });
            match run.catch_unwind().await {
                Ok(answer) => {
                    let outcome = Outcome::replied(answer.error());
                    if let Some(tx) = reply {
                        // The asker may have timed out and gone: nothing to do then.
                        let _ = tx.send(Ok(answer));
                    }
                    outcome
                }
                Err(panic) => {
                    let text = panic_text(panic.as_ref());
                    if let Some(tx) = reply {
                        let _ = tx.send(Err(Failure::Panicked(text.clone())));
                    }
                    Outcome::panicked(text)
                }
            }
        })
    }

    fn is_ask(&self) -> bool {
        self.reply.is_some()
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<M>()
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// The text of a panic payload.
pub(crate) fn panic_text(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    /// The envelope is copied into the mailbox and out again for every message: keep it
    /// within the size measured in BENCHMARKS.md (a larger one slows every tell). 88 bytes
    /// since the id of a traced message's `send` record rides beside the caller's context.
    #[test]
    fn the_envelope_stays_small() {
        struct A;
        impl crate::actor::Actor for A {}
        assert!(std::mem::size_of::<super::Envelope<A>>() <= 88);
        assert!(std::mem::size_of::<super::PayloadBox<A>>() <= 40);
    }
}
