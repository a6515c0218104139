//! Attribute keys and values on the spans this crate makes: the OpenTelemetry messaging
//! and thread conventions, and the `actor.*` keys where no convention exists.

pub use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, MESSAGING_DESTINATION_NAME,
    MESSAGING_MESSAGE_BODY_SIZE, MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM, THREAD_ID, THREAD_NAME,
};

/// The value of [`MESSAGING_SYSTEM`] on every span this crate makes.
pub const MESSAGING_SYSTEM_VALUE: &str = "actor-core";
/// The Rust type of the message.
pub const MESSAGE_TYPE: &str = "actor.message.type";
/// Nanoseconds the message waited in the mailbox before its handler started.
pub const MAILBOX_WAIT_NS: &str = "actor.mailbox.wait_ns";
/// Why a message reached no handler (on the `dead letter` event and span).
pub const DEAD_LETTER_REASON: &str = "actor.dead_letter.reason";
/// The actor whose strategy decided, on the `supervise` span.
pub const SUPERVISOR: &str = "actor.supervisor";
/// The child restarted (`restart` event) or that escalated (`escalate` event).
pub const SUPERVISED_CHILD: &str = "actor.supervision.child";
