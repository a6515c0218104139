//! [`Message`]: a message type and the type of its reply.

use crate::reply::Reply;

/// A message type. Its reply type is fixed here, so [`ask`](crate::ActorRef::ask) is typed
/// and a type-erased [`Recipient`](crate::Recipient) can still ask.
pub trait Message: Send + 'static {
    /// What a handler answers with. Use `()` for messages only ever told.
    type Reply: Reply;
}
