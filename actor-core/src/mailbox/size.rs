//! [`MailboxSize`]: how many messages an actor's mailbox holds.

/// Default capacity of a bounded mailbox.
pub(crate) const DEFAULT_CAPACITY: usize = 1024;

/// The size of an actor's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxSize {
    /// At most this many queued messages from others; `tell` waits for room (until its
    /// timeout, or until the actor is asked to stop), `try_tell` fails at once. The actor's
    /// messages to itself never wait and are never refused for room: they go in past the
    /// bound, since only the actor could free it. Senders waiting for room are woken together when the receive loop takes a batch out
    /// and race for the freed places: each sender's messages keep their order, but waiting
    /// senders are not served first-come, first-served.
    Bounded(usize),
    /// No limit: sends never wait. Use when senders must never be slowed down.
    Unbounded,
}

impl Default for MailboxSize {
    fn default() -> Self {
        MailboxSize::Bounded(DEFAULT_CAPACITY)
    }
}
