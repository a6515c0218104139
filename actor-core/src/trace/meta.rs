//! What an envelope carries for tracing: the sender's context (or its carrier), whether it
//! is a self-send, and when it was sent.

use std::collections::HashMap;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags};
use opentelemetry::Context;

use crate::trace::clock::Timestamp;
use crate::trace::delivery::Delivered;

/// Which send operation made an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendOp {
    Tell,
    Ask,
}

impl SendOp {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SendOp::Tell => "tell",
            SendOp::Ask => "ask",
        }
    }
}

/// The sender's context as it travels in an envelope.
pub(crate) enum TraceCarrier {
    /// The context itself (in-process).
    Context(Context),
    /// In-process, the caller's context and the id of the sampled `send` record made under
    /// its span: the message's sender is that span's context with this id. Saves making a
    /// context for the `send` span per message; the receive side makes it only when needed
    /// (`process.rs`: `restore`).
    Send(Context, SpanId),
    /// In-process, a message a bridge handed in from outside: the remote sender's context
    /// and how the message arrived ([`Delivery`](crate::trace::Delivery); boxed with the
    /// context, so the envelope stays small: one allocation where a context value costs
    /// three).
    Delivered(Box<(Context, Delivered)>),
    /// In-process, a message a bridge handed in with
    /// [`Delivery::send_from`](crate::trace::Delivery::send_from): the remote sender's
    /// span context alone (the actor's thread makes its context) and how it arrived.
    Remote(Box<(SpanContext, Delivered)>),
    /// Text headers injected by the configured propagator.
    // Boxed so the common in-process envelope stays small (the map is 48 bytes inline).
    #[allow(clippy::box_collection)]
    Headers(Box<HashMap<String, String>>),
}

impl TraceCarrier {
    /// The sender's span context of a [`TraceCarrier::Send`]: the span of the caller's
    /// `cx`, with the `send` record's id.
    pub(crate) fn sender_of(cx: &Context, send: SpanId) -> SpanContext {
        let caller = cx.span();
        let caller = caller.span_context();
        // As the `send` record was made: in the caller's trace, sampled, local.
        SpanContext::new(
            caller.trace_id(),
            send,
            TraceFlags::SAMPLED,
            false,
            caller.trace_state().clone(),
        )
    }
}

/// What the send side records in an envelope for the receive side's span.
pub(crate) struct TraceMeta {
    pub(crate) carrier: TraceCarrier,
    pub(crate) stamp: Stamp,
    /// 0 when message ids are off.
    pub(crate) message_id: u64,
}

/// Whether a message is a self-send, and when it was sent (only with instrumentation), in
/// one word: every envelope crosses between cores, so every byte of it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    const FROM_SELF: u64 = 1 << 63;

    /// A stamp for a message sent at `sent` (timed) or untimed.
    pub(crate) fn new(from_self: bool, sent: Option<Timestamp>) -> Self {
        // Nanoseconds since the Unix epoch, at least 1 (0 means untimed); 2^63 ns is
        // 292 years.
        let sent = sent.map_or(0, |t| t.unix_nanos().clamp(1, Self::FROM_SELF - 1));
        Stamp(sent | if from_self { Self::FROM_SELF } else { 0 })
    }

    /// Whether the actor sent the message to itself.
    pub(crate) fn is_self_send(self) -> bool {
        self.0 & Self::FROM_SELF != 0
    }

    /// Whether the sender recorded when it sent the message.
    pub(crate) fn is_timed(self) -> bool {
        self.0 & !Self::FROM_SELF != 0
    }

    /// How long the message had waited at `now`, if it was timed.
    pub(crate) fn waited_until(self, now: Timestamp) -> Option<std::time::Duration> {
        let sent = self.0 & !Self::FROM_SELF;
        (sent != 0).then(|| std::time::Duration::from_nanos(now.unix_nanos().saturating_sub(sent)))
    }

    /// How long ago the message was sent, if it was timed (an untimed one reads no clock).
    pub(crate) fn waited(self) -> Option<std::time::Duration> {
        self.is_timed()
            .then(|| self.waited_until(Timestamp::now()))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::Stamp;
    use crate::trace::clock::Timestamp;

    #[test]
    fn a_stamp_keeps_the_self_send_flag_apart_from_the_time() {
        for from_self in [false, true] {
            let untimed = Stamp::new(from_self, None);
            assert_eq!(untimed.is_self_send(), from_self);
            assert_eq!(untimed.waited(), None);

            let timed = Stamp::new(from_self, Some(Timestamp::now()));
            std::thread::sleep(std::time::Duration::from_millis(2));
            assert_eq!(timed.is_self_send(), from_self);
            let waited = timed.waited().expect("a timed stamp knows its wait");
            assert!(waited >= std::time::Duration::from_millis(2), "{waited:?}");
            assert!(waited < std::time::Duration::from_secs(60), "{waited:?}");
        }
    }
}
