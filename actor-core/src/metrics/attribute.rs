//! Names of the actor metrics and of their own attributes.

/// `messaging.client.sent.messages`: messages handed to an actor's mailbox.
pub(crate) const SENT: &str = "messaging.client.sent.messages";
/// `messaging.client.consumed.messages`: messages an actor handled.
pub(crate) const CONSUMED: &str = "messaging.client.consumed.messages";
/// `messaging.process.duration`: how long the handler ran.
pub(crate) const PROCESS_DURATION: &str = "messaging.process.duration";
/// `actor.mailbox.wait.duration`: how long a message waited in the mailbox.
pub(crate) const WAIT_DURATION: &str = "actor.mailbox.wait.duration";
/// `actor.mailbox.depth`: messages queued in a bounded mailbox, observed at collection.
pub(crate) const DEPTH: &str = "actor.mailbox.depth";
/// `actor.panics`: handler, `started` or factory panics caught.
pub(crate) const PANICS: &str = "actor.panics";
/// `actor.restarts`: restarts by supervision.
pub(crate) const RESTARTS: &str = "actor.restarts";
/// `actor.system.actors`: actors running in a system.
pub(crate) const LIVE_ACTORS: &str = "actor.system.actors";
/// `actor.system`: the system's name.
pub(crate) const ACTOR_SYSTEM: &str = "actor.system";
/// `actor.message.type` value shared by message types beyond the cap.
pub(crate) const OTHER_TYPE: &str = "_OTHER";
