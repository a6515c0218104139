//! The send side: the caller's context captured into the envelope, and the PRODUCER
//! `send <actor>` span, made and ended on the sender's thread.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use std::time::SystemTime;

use opentelemetry::global::{BoxedSpan, BoxedTracer};
use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, Value};

use crate::current;
use crate::dead_letter::DeadLetterReason;
use crate::metrics::MetricsOptions;
use crate::trace::attribute::{
    DEAD_LETTER_REASON, MESSAGE_TYPE, MESSAGING_DESTINATION_NAME, MESSAGING_MESSAGE_ID,
    MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE,
};
use crate::trace::clock::Timestamp;
use crate::trace::delivery::Delivery;
use crate::trace::instrumentation::Instrumentation;
use crate::trace::meta::{SendOp, Stamp, TraceCarrier, TraceMeta};
use crate::trace::names;
use crate::trace::options::{Propagation, TracingOptions};
use crate::trace::record::{self, Operation, SenderLink, SharedRecorder, SpanExtras, SpanRecord};
use opentelemetry::metrics::Meter;

/// What the send side needs to know about one actor, made once when it is spawned.
pub(crate) struct Destination {
    /// `send <name>`, interned (only when spans are on).
    span_name: Cow<'static, str>,
    /// The name as a span attribute value (interned: no allocation, no shared count per span).
    name_value: Value,
    next_message_id: AtomicU64,
}

impl Destination {
    /// The destination for the actor `name`; `instrumented` when spans will be made.
    pub(crate) fn new(name: &Arc<str>, instrumented: bool) -> Self {
        let (span_name, name_value) = if instrumented {
            (
                names::intern(format!("send {name}")),
                names::attribute_value(name),
            )
        } else {
            (Cow::Borrowed("send"), name.clone().into())
        };
        Destination {
            span_name,
            name_value,
            next_message_id: AtomicU64::new(1),
        }
    }

    /// The actor's name as an attribute value.
    pub(crate) fn name_value(&self) -> &Value {
        &self.name_value
    }

    /// A fresh `messaging.message.id` for a message to this actor.
    fn next_message_id(&self) -> u64 {
        self.next_message_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The per-system tracing (and metrics) state shared by every actor reference.
pub(crate) struct Tracing {
    pub(crate) options: TracingOptions,
    pub(crate) instrumentation: Option<Arc<dyn Instrumentation>>,
    system_tracer: Option<BoxedTracer>,
    /// Where `send` spans of threads that are not actors go as records, if the
    /// instrumentation records them.
    system_recorder: Option<SharedRecorder>,
    /// The system's meter, when metrics are on.
    pub(crate) system_meter: Option<Meter>,
    pub(crate) metrics: MetricsOptions,
}

thread_local! {
    /// Sends from this thread since its last timed one (metrics without `process` spans).
    static SEND_TICK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The caller's context as a send captures it: the active OpenTelemetry context (with the
/// `tracing` feature, the current `tracing` span's when it has one).
pub(crate) fn caller_context() -> Context {
    let cx = Context::current();
    #[cfg(feature = "tracing")]
    let cx = crate::trace::tracing_bridge::caller::caller_context(cx);
    cx
}

/// A `send` span in flight: an SDK span, or what its record needs besides the destination.
pub(crate) enum SendSpan {
    /// Made through the caller's tracer.
    Sdk(BoxedSpan),
    /// A record, made and pushed to the recorder when it ends.
    Record(OpenSend),
}

/// A `send` record in flight: only what the destination does not know, so the message's
/// `Outgoing` stays small (it is moved a few times on its way into the mailbox).
pub(crate) struct OpenSend {
    span_context: SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    op: SendOp,
    start: Timestamp,
    message_type: &'static str,
    message_id: u64,
    /// What was added before it ended (a refused send's event and status).
    extras: Option<Box<SpanExtras>>,
    recorder: SharedRecorder,
}

impl OpenSend {
    fn extras_mut(&mut self) -> &mut SpanExtras {
        self.extras.get_or_insert_with(Default::default)
    }
}

/// Ends a `send` span for a message to `target`, marking it Error when the message was not
/// delivered.
pub(crate) fn end_send_span(span: SendSpan, delivered: bool, target: &Destination) {
    use opentelemetry::trace::Span as _;
    match span {
        SendSpan::Sdk(mut span) => {
            if !delivered {
                span.set_status(Status::error("message not delivered"));
            }
            span.end();
        }
        SendSpan::Record(mut open) => {
            let end = Timestamp::now();
            if !delivered {
                open.extras_mut().status = Status::error("message not delivered");
            }
            let thread = thread_stamp();
            // Made in place as the argument: the record is copied once, into the buffer.
            open.recorder.record(SpanRecord {
                span_context: open.span_context,
                parent_span_id: open.parent_span_id,
                parent_is_remote: open.parent_is_remote,
                operation: match open.op {
                    SendOp::Tell => Operation::Tell,
                    SendOp::Ask => Operation::Ask,
                },
                link: SenderLink::None,
                name: target.span_name.clone(),
                start: open.start,
                end,
                destination: target.name_value.clone(),
                message_type: open.message_type,
                message_id: open.message_id,
                mailbox_wait_ns: None,
                thread,
                delivery: None,
                body_size: None,
                extras: open.extras,
            });
        }
    }
}

/// Records a refused send as a `dead letter` event on the sender's side: on its `send`
/// span when there is one, else on the sender's active span. Returns the sender's context.
pub(crate) fn refused_event(
    send_span: Option<&mut SendSpan>,
    reason: DeadLetterReason,
    message_type: &'static str,
) -> Context {
    use opentelemetry::trace::Span as _;
    let attributes = vec![
        KeyValue::new(DEAD_LETTER_REASON, reason.as_str()),
        KeyValue::new(MESSAGE_TYPE, message_type),
    ];
    let cx = Context::current();
    match send_span {
        Some(SendSpan::Sdk(span)) => span.add_event("dead letter", attributes),
        Some(SendSpan::Record(open)) => open.extras_mut().events.push(Event::new(
            "dead letter",
            SystemTime::now(),
            attributes,
            0,
        )),
        None => {
            // The sender's active span may be its handler's `process` record.
            let id = cx.span().span_context().span_id();
            let mut attributes = Some(attributes);
            record::open::with(id, |extras| {
                if let Some(attributes) = attributes.take() {
                    extras
                        .events
                        .push(Event::new("dead letter", SystemTime::now(), attributes, 0));
                }
            });
            if let Some(attributes) = attributes {
                cx.span().add_event("dead letter", attributes);
            }
        }
    }
    cx
}

thread_local! {
    /// `thread.name` and `thread.id` of this thread, for `send` records made outside actor
    /// threads (interned: stamping a record costs no allocation and no shared count).
    static THREAD_STAMP: (Value, i64) = {
        let name: Arc<str> = std::thread::current().name().unwrap_or("unnamed").into();
        (names::attribute_value(&name), current::thread_id() as i64)
    };
}

/// `thread.name` and `thread.id` of the calling thread for a `send` record, unless it is an
/// actor's (whose resource says which thread).
pub(crate) fn thread_stamp() -> Option<(Value, i64)> {
    if current::actor().is_some() {
        return None;
    }
    THREAD_STAMP.try_with(|t| t.clone()).ok()
}

/// Starts the `send` record for a message to `target` under the caller's `cx`, if the
/// recorder samples it, and returns the context the message carries: with `Some(id)`, the
/// caller's own, the `send` record's span context being its span's with that id (see
/// [`TraceCarrier::Send`]).
fn start_send_record(
    recorder: SharedRecorder,
    target: &Destination,
    op: SendOp,
    message_type: &'static str,
    message_id: u64,
    cx: Context,
    clock: &mut Option<Timestamp>,
) -> (Context, Option<SpanId>, Option<SendSpan>) {
    let parent = cx.span().span_context().clone();
    let name = &target.span_name;
    let (cx, span_context) =
        match record::decide(recorder.as_ref(), cx, &parent, name, SpanKind::Producer) {
            record::Decision::Record { cx, span_context } => (cx, span_context),
            record::Decision::Unsampled(carried) => return (carried, None, None),
        };
    let valid = parent.is_valid();
    let start = *clock.get_or_insert_with(Timestamp::now);
    // Under a sampled local span, the receiver can tell the sender from the caller's
    // context and the record's id (and samples alike): no context is made.
    let (carried, send_id) = if valid && parent.is_sampled() && !parent.is_remote() {
        (cx, Some(span_context.span_id()))
    } else {
        (cx.with_remote_span_context(span_context.clone()), None)
    };
    let (parent_span_id, parent_is_remote) = record::parent_ids(&parent);
    let open = OpenSend {
        span_context,
        parent_span_id,
        parent_is_remote,
        op,
        start,
        message_type,
        message_id,
        extras: None,
        recorder,
    };
    (carried, send_id, Some(SendSpan::Record(open)))
}

impl Tracing {
    pub(crate) fn new(
        options: TracingOptions,
        instrumentation: Option<Arc<dyn Instrumentation>>,
        metrics: MetricsOptions,
    ) -> Self {
        let system_tracer = instrumentation.as_ref().map(|i| i.system_tracer());
        let system_meter = instrumentation.as_ref().and_then(|i| i.system_meter());
        let system_recorder = instrumentation.as_ref().and_then(|i| i.system_recorder());
        Tracing {
            options,
            instrumentation,
            system_tracer,
            system_recorder,
            system_meter,
            metrics,
        }
    }

    /// Whether actors record metrics.
    pub(crate) fn metered(&self) -> bool {
        self.system_meter.is_some()
    }

    /// Whether every message carries its send time: the `process` span records the wait.
    pub(crate) fn every_message_timed(&self) -> bool {
        self.instrumentation.is_some() && self.options.process_spans
    }

    /// Whether this message carries its send time: every one with `process` spans, else
    /// one in [`MetricsOptions::duration_sample_every`] per sending thread with metrics.
    #[inline]
    fn timed(&self) -> bool {
        if self.every_message_timed() {
            return true;
        }
        if !self.metered() {
            return false;
        }
        // A thread's first send is timed, then one in `every`.
        SEND_TICK.with(|tick| match tick.get() {
            0 => {
                tick.set(self.metrics.every() - 1);
                true
            }
            n => {
                tick.set(n - 1);
                false
            }
        })
    }

    /// Whether an SDK is installed (spans are made).
    pub(crate) fn instrumented(&self) -> bool {
        self.instrumentation.is_some()
    }

    /// Captures the caller's context for a message to `target`; with instrumentation, also
    /// starts the `send` span that the message's `process` span will follow.
    ///
    /// The sender keeps the `send` span (it ends it once the message is delivered); the
    /// message carries only the span's identity. The span object is thus made, ended and
    /// freed on the sender's thread, never on the actor's.
    #[inline]
    pub(crate) fn capture(
        &self,
        target: &Destination,
        op: SendOp,
        message_type: &'static str,
        from_self: bool,
    ) -> (TraceMeta, Option<SendSpan>) {
        if self.instrumentation.is_none()
            && matches!(self.options.propagation, Propagation::InProcess)
        {
            // No SDK: the message carries the caller's context, and nothing else is made.
            // Kept short and inline, so the context goes straight into the envelope being
            // built.
            // A bridge's message from a remote sender (`Delivery::send_from`): that sender's.
            let cx = match Delivery::remote_sender() {
                Some(sender) => Context::new().with_remote_span_context(sender),
                None => caller_context(),
            };
            let meta = TraceMeta {
                carrier: TraceCarrier::Context(cx),
                stamp: Stamp::new(from_self, self.timed().then(Timestamp::now)),
                message_id: 0,
            };
            return (meta, None);
        }
        self.capture_instrumented(target, op, message_type, from_self)
    }

    /// [`capture`](Self::capture) with instrumentation or a propagator's carrier.
    fn capture_instrumented(
        &self,
        target: &Destination,
        op: SendOp,
        message_type: &'static str,
        from_self: bool,
    ) -> (TraceMeta, Option<SendSpan>) {
        // A bridge's message from a remote sender (`Delivery::send_from`) carries that
        // sender alone: no context is made for it here.
        let (remote, mut remote_delivered) = match Delivery::sending_from() {
            Some((sender, delivered)) => (Some(sender), Some(delivered)),
            None => (None, None),
        };
        let mut cx = match remote {
            Some(_) => Context::new(),
            None => caller_context(),
        };
        let mut send_span = None;
        let mut message_id = 0;
        // One reading of the clock for the `send` record's start and the stamp.
        let mut clock = None;
        // The `send` record's id when `cx` is left the caller's (`TraceCarrier::Send`).
        let mut send_id = None;
        // How a message a bridge hands in from outside arrived.
        let mut delivered = None;
        if self.instrumentation.is_some() {
            if self.options.message_ids {
                message_id = target.next_message_id();
            }
            let wanted = match op {
                SendOp::Tell => self.options.send_span_on_tell,
                SendOp::Ask => self.options.send_span_on_ask,
            };
            // A message a bridge hands in from outside (with its `Delivery`) was sent by
            // the remote caller's own `send` span: its `process` span follows that one.
            delivered = remote_delivered.take().or_else(|| Delivery::current(&cx));
            let wanted = wanted && delivered.is_none();
            if wanted {
                match self.caller_recorder() {
                    Some(recorder) => {
                        let (carried, id, span) = start_send_record(
                            recorder,
                            target,
                            op,
                            message_type,
                            message_id,
                            cx,
                            &mut clock,
                        );
                        cx = carried;
                        send_id = id;
                        send_span = span;
                    }
                    None => {
                        use opentelemetry::trace::Span as _;
                        let span = self.with_caller_tracer(|tracer| {
                            start_send_span(tracer, target, op, message_type, message_id, &cx)
                        });
                        // `with_remote_span_context` wraps the identity as given: it stays
                        // local (`is_remote` false), as the sender is in this process.
                        cx = cx.with_remote_span_context(span.span_context().clone());
                        send_span = Some(SendSpan::Sdk(span));
                    }
                }
            }
        }
        let carrier = match (&self.options.propagation, send_id) {
            (Propagation::InProcess, Some(id)) => TraceCarrier::Send(cx, id),
            (Propagation::InProcess, None) => match (delivered, remote) {
                (Some(delivered), Some(sender)) => {
                    TraceCarrier::Remote(Box::new((sender, delivered)))
                }
                (Some(delivered), None) => TraceCarrier::Delivered(Box::new((cx, delivered))),
                (None, _) => TraceCarrier::Context(cx),
            },
            (Propagation::Carrier(propagator), _) => {
                let cx = match (send_id, remote) {
                    (Some(id), _) => {
                        let sender = TraceCarrier::sender_of(&cx, id);
                        cx.with_remote_span_context(sender)
                    }
                    (None, Some(sender)) => cx.with_remote_span_context(sender),
                    (None, None) => cx,
                };
                let mut headers = HashMap::new();
                propagator.inject_context(&cx, &mut headers);
                TraceCarrier::Headers(Box::new(headers))
            }
        };
        let meta = TraceMeta {
            carrier,
            stamp: Stamp::new(
                from_self,
                self.timed()
                    .then(|| *clock.get_or_insert_with(Timestamp::now)),
            ),
            message_id,
        };
        (meta, send_span)
    }

    /// The trace of a message the actor sends itself on behalf of `link` (a timer that
    /// fires, a stream item): a self-send carrying `link` as its sender's context, without
    /// a `send` span, so its `process` span starts a new trace linked straight to `link`
    /// (with the default [`Relation::Link`](crate::trace::Relation::Link) for self-sends)
    /// and the scheduling trace does not grow by a span per firing.
    pub(crate) fn capture_linked(&self, target: &Destination, link: &Context) -> TraceMeta {
        let message_id = if self.instrumentation.is_some() && self.options.message_ids {
            target.next_message_id()
        } else {
            0
        };
        let carrier = match &self.options.propagation {
            Propagation::InProcess => TraceCarrier::Context(link.clone()),
            Propagation::Carrier(propagator) => {
                let mut headers = HashMap::new();
                propagator.inject_context(link, &mut headers);
                TraceCarrier::Headers(Box::new(headers))
            }
        };
        TraceMeta {
            carrier,
            stamp: Stamp::new(true, self.timed().then(Timestamp::now)),
            message_id,
        }
    }

    /// The recorder for a `send` span made on this thread: its actor's, or on other threads
    /// the system's (`None`: the span is made through the caller's tracer).
    fn caller_recorder(&self) -> Option<SharedRecorder> {
        match record::actor_recorder() {
            record::ThreadRecorder::NotActor => self.system_recorder.clone(),
            record::ThreadRecorder::Sdk => None,
            record::ThreadRecorder::Records(r) => Some(r),
        }
    }

    fn with_caller_tracer<R>(&self, f: impl FnOnce(&BoxedTracer) -> R) -> R {
        match (current::actor_tracer(), &self.system_tracer) {
            (Some(t), _) => f(&t),
            (None, Some(t)) => f(t),
            (None, None) => f(&opentelemetry::global::tracer(MESSAGING_SYSTEM_VALUE)),
        }
    }
}

fn start_send_span(
    tracer: &BoxedTracer,
    target: &Destination,
    op: SendOp,
    message_type: &'static str,
    message_id: u64,
    parent: &Context,
) -> BoxedSpan {
    // Room for the message id and for `thread.name`/`thread.id`, which an SDK may stamp on
    // spans from threads that are not actors (as `actor-otel` does): no regrowth.
    let mut attributes = Vec::with_capacity(8);
    attributes.extend([
        KeyValue::new(MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE),
        KeyValue::new(MESSAGING_DESTINATION_NAME, target.name_value.clone()),
        KeyValue::new(MESSAGING_OPERATION_TYPE, "send"),
        KeyValue::new(MESSAGING_OPERATION_NAME, op.as_str()),
        KeyValue::new(MESSAGE_TYPE, message_type),
    ]);
    push_message_id(&mut attributes, message_id);
    tracer
        .span_builder(target.span_name.clone())
        .with_kind(SpanKind::Producer)
        .with_attributes(attributes)
        .start_with_context(tracer, parent)
}

/// Adds `messaging.message.id` when message ids are on (a nonzero id).
pub(crate) fn push_message_id(attributes: &mut Vec<KeyValue>, message_id: u64) {
    if message_id != 0 {
        attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, message_id.to_string()));
    }
}
