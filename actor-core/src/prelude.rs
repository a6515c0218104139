//! The names almost every user of the crate needs: `use actor_core::prelude::*;`.

pub use crate::actor::{Actor, Handler};
pub use crate::ctx::Ctx;
pub use crate::error::{AskError, SendError, SpawnError};
pub use crate::handle::actor_ref::ActorRef;
pub use crate::mailbox::size::MailboxSize;
pub use crate::message::Message;
pub use crate::reply::Reply;
pub use crate::system::ActorSystem;
