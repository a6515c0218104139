//! [`BridgeSend`]: the PRODUCER `send` span of a bridge (a message leaving the process,
//! over NATS say) as a compact record, sampled and timed like the framework's own.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Context, Value};

use crate::trace::clock::Timestamp;
use crate::trace::record::{self, DeliveryParts, Operation, SenderLink, SharedRecorder};
use crate::trace::send::thread_stamp;
use crate::trace::{SpanExtras, SpanRecord};

/// A bridge's `send` record in flight: started under the caller's context, ended when the
/// message has left (or failed to).
pub struct BridgeSend {
    span_context: SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    start: Timestamp,
    name: Cow<'static, str>,
    destination: Value,
    message_type: &'static str,
    delivery: Arc<DeliveryParts>,
    body_size: Option<u32>,
    recorder: SharedRecorder,
}

impl std::fmt::Debug for BridgeSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeSend")
            .field("name", &self.name)
            .field("span_context", &self.span_context)
            .finish()
    }
}

impl BridgeSend {
    /// Starts a `send` record named `name` (interned) for `destination` under the caller's
    /// `cx`, if `recorder` samples it. Returns the context to inject into the message (with
    /// the record's identity; unsampled, marked so) and the record, if any. `delivery`
    /// gives `messaging.system` and the bridge's further attributes (made once per
    /// destination and shared), `body_size` the message's size in bytes.
    pub fn start(
        recorder: &SharedRecorder,
        cx: Context,
        name: Cow<'static, str>,
        destination: Value,
        message_type: &'static str,
        delivery: Arc<DeliveryParts>,
        body_size: Option<usize>,
    ) -> (Context, Option<BridgeSend>) {
        use opentelemetry::trace::TraceContextExt as _;
        let (carried, open) = Self::start_in(
            recorder,
            &cx,
            name,
            destination,
            message_type,
            delivery,
            body_size,
        );
        match carried {
            Some(span_context) => (cx.with_remote_span_context(span_context), open),
            None => (cx, open),
        }
    }

    /// [`start`](Self::start) in a borrowed context, with no context made: returns the
    /// identity to inject into the message (`None`: the caller's context as it is, an
    /// unsampled trace) and the record, if any. For a bridge that writes the identity
    /// itself ([`traceparent_bytes`](crate::trace::carrier::traceparent_bytes)).
    pub fn start_in(
        recorder: &SharedRecorder,
        cx: &Context,
        name: Cow<'static, str>,
        destination: Value,
        message_type: &'static str,
        delivery: Arc<DeliveryParts>,
        body_size: Option<usize>,
    ) -> (Option<SpanContext>, Option<BridgeSend>) {
        use opentelemetry::trace::TraceContextExt as _;
        let span = cx.span();
        let parent = span.span_context();
        match record::decide_ids(
            recorder.as_ref(),
            record::SamplerSees::Context(cx),
            parent,
            &name,
            SpanKind::Producer,
        ) {
            record::Decided::AsItCame => (None, None),
            record::Decided::Unsampled(unsampled) => (Some(unsampled), None),
            record::Decided::Record(span_context) => {
                let (parent_span_id, parent_is_remote) = record::parent_ids(parent);
                let open = BridgeSend {
                    span_context: span_context.clone(),
                    parent_span_id,
                    parent_is_remote,
                    start: Timestamp::now(),
                    name,
                    destination,
                    message_type,
                    delivery,
                    body_size: body_size.map(record::body_size_of),
                    recorder: recorder.clone(),
                };
                (Some(span_context), Some(open))
            }
        }
    }

    /// Ends the record now (`failure`: its status is Error with that description) and hands
    /// it to its recorder.
    pub fn end(self, failure: Option<&str>) {
        let extras = failure.map(|text| {
            Box::new(SpanExtras {
                status: Status::error(text.to_owned()),
                ..SpanExtras::default()
            })
        });
        // Made in place as the argument: the record is copied once, into the buffer.
        self.recorder.record(SpanRecord {
            span_context: self.span_context,
            parent_span_id: self.parent_span_id,
            parent_is_remote: self.parent_is_remote,
            operation: Operation::Send,
            link: SenderLink::None,
            name: self.name,
            start: self.start,
            end: Timestamp::now(),
            destination: self.destination,
            message_type: self.message_type,
            message_id: 0,
            mailbox_wait_ns: None,
            thread: thread_stamp(),
            delivery: Some(self.delivery),
            body_size: self.body_size,
            extras,
        });
    }
}
