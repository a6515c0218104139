//! The traits a user implements for an actor: [`Actor`] and [`Handler`].

use std::future::Future;

use crate::ctx::Ctx;
use crate::message::Message;

/// An actor: state that lives on its own OS thread and handles messages one at a time.
///
/// The state does not need to be `Send`: it is built on the actor's thread by the
/// factory given to [`ActorSystem::spawn`](crate::ActorSystem::spawn).
#[allow(async_fn_in_trait)]
pub trait Actor: Sized + 'static {
    /// Runs on the actor's thread after the state is built (and after every restart),
    /// before the first message is handled.
    async fn started(&mut self, _cx: &mut Ctx<Self>) {}

    /// Runs on the actor's thread after the mailbox is drained, when the actor stops.
    async fn stopped(&mut self, _cx: &mut Ctx<Self>) {}
}

/// Handling of one message type `M` by actor `Self`. An actor may handle many message types.
///
/// The returned future runs on the actor's thread and need not be `Send`; it may block or
/// burn CPU: only this actor waits. The sender's OpenTelemetry context is the active context
/// for the whole handler, across every `.await`.
pub trait Handler<M: Message>: Actor {
    /// Handles `msg` and produces its reply.
    fn handle(&mut self, msg: M, cx: &mut Ctx<Self>) -> impl Future<Output = M::Reply>;
}
