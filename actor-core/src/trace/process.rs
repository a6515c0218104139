//! The receive side: the sender's context restored, and the CONSUMER `process <actor>`
//! span around each handler.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Meter;

use opentelemetry::trace::{
    Event, Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, Tracer,
};
use opentelemetry::{Context, KeyValue, Value};

use crate::current;
use crate::dead_letter::DeadLetterReason;
use crate::info::ActorInfo;

use crate::trace::attribute::{
    DEAD_LETTER_REASON, ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, MAILBOX_WAIT_NS,
    MESSAGE_TYPE, MESSAGING_DESTINATION_NAME, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE, SUPERVISED_CHILD, SUPERVISOR, THREAD_ID, THREAD_NAME,
};
use crate::trace::carrier::{extract, extract_with};
use crate::trace::clock::Timestamp;
use crate::trace::delivery::Delivered;
use crate::trace::in_context::InContext;
use crate::trace::meta::{Stamp, TraceCarrier, TraceMeta};
use crate::trace::names;
use crate::trace::options::{Propagation, Relation, Relations};
use crate::trace::outcome::Outcome;
use crate::trace::record::{
    self, DeliveryParts, Operation, SenderLink, SharedRecorder, SpanRecord,
};
use crate::trace::send::{push_message_id, Tracing};

/// One actor thread's tracing: the handshake with the instrumentation when the thread
/// starts, then for each message the sender's context restored, the parent-or-link choice,
/// the `process` span around the handler, and at the end the pipeline's teardown.
pub(crate) struct ReceiveTracing {
    tracer: Rc<BoxedTracer>,
    /// `None` when no SDK is installed or `process` spans are off.
    spans: Option<ProcessSpans>,
    relations: Relations,
    propagation: Propagation,
    teardown: Option<Box<dyn FnOnce()>>,
    /// The actor's meter, until the receive loop takes it.
    meter: Option<Meter>,
    /// The actor's name, for the `process` tracing span.
    #[cfg(feature = "tracing")]
    name: Value,
}

impl ReceiveTracing {
    /// Runs the instrumentation's `actor_started` on this (the actor's) thread and marks
    /// the thread as the actor's.
    pub(crate) fn start(
        tracing: &Tracing,
        info: &ActorInfo,
        name_value: &Value,
        relations: Relations,
    ) -> Self {
        let telemetry = tracing
            .instrumentation
            .as_ref()
            .map(|i| i.actor_started(info));
        let (tracer, meter, teardown, recorder) = match telemetry {
            Some(t) => (Rc::new(t.tracer), t.meter, t.teardown, t.recorder),
            None => (
                Rc::new(opentelemetry::global::tracer(MESSAGING_SYSTEM_VALUE)),
                None,
                None,
                None,
            ),
        };
        let instrumented = tracing.instrumented();
        if instrumented {
            record::enter_actor(recorder.clone());
        }
        current::enter_actor(
            info.id,
            info.thread_id,
            instrumented.then(|| tracer.clone()),
        );
        let spans = (instrumented && tracing.options.process_spans).then(|| ProcessSpans {
            tracer: tracer.clone(),
            name: name_value.clone(),
            span_name: names::intern(format!("process {}", info.name)),
            dead_letter_name: names::intern(format!("dead letter {}", info.name)),
            thread_id: info.thread_id as i64,
            recorder,
        });
        ReceiveTracing {
            tracer,
            spans,
            relations,
            propagation: tracing.options.propagation.clone(),
            teardown,
            meter,
            #[cfg(feature = "tracing")]
            name: name_value.clone(),
        }
    }

    /// The actor's meter, if its instrumentation gave it one (taken once).
    pub(crate) fn take_meter(&mut self) -> Option<Meter> {
        self.meter.take()
    }

    /// The actor's tracer (for [`Ctx::tracer`](crate::Ctx::tracer)).
    pub(crate) fn tracer(&self) -> Rc<BoxedTracer> {
        self.tracer.clone()
    }

    /// Runs `handler` for a message that carried `trace`: in the sender's context (or a
    /// new trace linked to it), inside the message's `process` span when spans are on.
    pub(crate) async fn run(
        &self,
        trace: TraceMeta,
        message_type: &'static str,
        handler: impl Future<Output = Outcome>,
    ) -> Outcome {
        let TraceMeta {
            carrier,
            stamp,
            message_id,
        } = trace;
        let relation = self.relations.pick(stamp.is_self_send());
        match &self.spans {
            Some(spans) => {
                let (parent, sender, delivered) = match carrier {
                    // The sender's span travelled apart: no context is made for it.
                    TraceCarrier::Send(parent, send) => {
                        let sender = TraceCarrier::sender_of(&parent, send);
                        (Parent::Context(parent), Some(sender), None)
                    }
                    TraceCarrier::Delivered(delivered) => {
                        let (parent, delivered) = *delivered;
                        (Parent::Context(parent), None, Some(delivered))
                    }
                    // The remote sender alone: its context is made only if needed.
                    TraceCarrier::Remote(remote) => {
                        let (sender, delivered) = *remote;
                        (Parent::Remote(sender), None, Some(delivered))
                    }
                    carrier => (
                        Parent::Context(restore(&self.propagation, carrier)),
                        None,
                        None,
                    ),
                };
                let message = Arrived {
                    stamp,
                    message_id,
                    message_type,
                    delivered,
                };
                let (cx, open) = spans.start(parent, sender, relation, message);
                #[cfg(feature = "tracing")]
                let (handler, cx) = crate::trace::tracing_bridge::handler::instrument(
                    handler,
                    cx,
                    &self.name,
                    message_type,
                    !matches!(open, Open::Unsampled),
                );
                let mut outcome = InContext::new(handler, cx.clone()).await;
                match open {
                    Open::Sdk => ProcessSpans::end(&cx, &outcome),
                    Open::Record(open) => spans.end_record(open, &outcome),
                    Open::Unsampled => {}
                }
                // Supervision's decision joins the failing message's trace.
                outcome.keep_panic_context(cx);
                outcome
            }
            None => {
                let cx = match relation {
                    Relation::Parent => restore(&self.propagation, carrier),
                    Relation::Link => Context::new(),
                };
                #[cfg(feature = "tracing")]
                let (handler, cx) = crate::trace::tracing_bridge::handler::instrument(
                    handler,
                    cx,
                    &self.name,
                    message_type,
                    false,
                );
                // Moved in, not cloned: no reference count traffic on the sender's context.
                InContext::new(handler, cx).await
            }
        }
    }

    /// A message that reached no handler on this side (dropped or killed): restores its
    /// sender's context and, with spans on, records a `dead letter <actor>` span in the
    /// sender's trace (the sender's own span has usually ended by then).
    pub(crate) fn dead_letter(
        &self,
        trace: TraceMeta,
        message_type: &'static str,
        reason: DeadLetterReason,
    ) -> Context {
        let parent = restore(&self.propagation, trace.carrier);
        if let Some(spans) = &self.spans {
            spans.dead_letter(&parent, message_type, reason);
        }
        parent
    }

    /// Records a supervision decision taken here (the failing child's thread) as a short
    /// `supervise <supervisor>` span under `failure` (the failing message's context): a
    /// `restart` event per child restarted, in order, or an `escalate` event naming the
    /// child whose failure went beyond the intensity.
    pub(crate) fn supervise(
        &self,
        failure: &Context,
        supervisor: &str,
        restarted: &[Arc<str>],
        escalated_by: Option<&str>,
    ) {
        let Some(spans) = &self.spans else {
            return;
        };
        let mut span = spans
            .tracer
            .span_builder(format!("supervise {supervisor}"))
            .with_kind(SpanKind::Internal)
            .with_attributes([
                KeyValue::new(MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE),
                KeyValue::new(SUPERVISOR, supervisor.to_owned()),
            ])
            .start_with_context(&*spans.tracer, failure);
        for child in restarted {
            span.add_event(
                "restart",
                vec![KeyValue::new(SUPERVISED_CHILD, child.to_string())],
            );
        }
        if let Some(child) = escalated_by {
            span.add_event(
                "escalate",
                vec![KeyValue::new(SUPERVISED_CHILD, child.to_owned())],
            );
            span.set_status(Status::error("restart intensity exceeded"));
        }
        span.end();
    }

    /// Flushes and shuts down the actor's own pipeline, if it has one (on its thread,
    /// after the mailbox is drained).
    pub(crate) fn teardown(self) {
        if let Some(teardown) = self.teardown {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(teardown));
        }
    }
}

/// The sender's context, restored on the receive side.
fn restore(propagation: &Propagation, carrier: TraceCarrier) -> Context {
    match carrier {
        TraceCarrier::Context(cx) => cx,
        TraceCarrier::Delivered(delivered) => delivered.0,
        TraceCarrier::Remote(remote) => Context::new().with_remote_span_context(remote.0),
        TraceCarrier::Send(cx, send) => {
            let sender = TraceCarrier::sender_of(&cx, send);
            cx.with_remote_span_context(sender)
        }
        TraceCarrier::Headers(headers) => match propagation {
            Propagation::Carrier(p) => extract_with(p.as_ref(), &*headers, &Default::default()),
            Propagation::InProcess => extract(&*headers),
        },
    }
}

/// The sender's side of a message as the receive loop has it.
enum Parent {
    /// The sender's context.
    Context(Context),
    /// A remote sender's span context alone (`Delivery::send_from`): its context is made
    /// only when the handler runs in it.
    Remote(SpanContext),
}

impl Parent {
    /// The span context of the sender's span.
    fn span_context(&self) -> SpanContext {
        match self {
            Parent::Context(cx) => cx.span().span_context().clone(),
            Parent::Remote(sender) => sender.clone(),
        }
    }

    /// The sender's context.
    fn into_context(self) -> Context {
        match self {
            Parent::Context(cx) => cx,
            Parent::Remote(sender) => Context::new().with_remote_span_context(sender),
        }
    }

    /// The sender's context for a span that takes its span's place: a remote sender alone
    /// leaves nothing else to carry.
    fn beneath(self) -> Context {
        match self {
            Parent::Context(cx) => cx,
            Parent::Remote(_) => Context::new(),
        }
    }
}

/// What the `process` span of a message needs to know of it besides its sender.
struct Arrived {
    stamp: Stamp,
    message_id: u64,
    message_type: &'static str,
    /// How a bridge delivered it, if one did.
    delivered: Option<Delivered>,
}

/// The receive side's span maker, one per actor thread.
struct ProcessSpans {
    tracer: Rc<BoxedTracer>,
    /// The actor's name as an attribute value.
    name: Value,
    span_name: Cow<'static, str>,
    dead_letter_name: Cow<'static, str>,
    thread_id: i64,
    /// Where `process` spans go as records (`None`: SDK spans through `tracer`).
    recorder: Option<SharedRecorder>,
}

/// The `process` span of the message being handled.
enum Open {
    /// An SDK span, in the handler's context.
    Sdk,
    /// A record, made and pushed to the actor's recorder when the handler ends.
    Record(OpenProcess),
    /// Sampled out: nothing recorded.
    Unsampled,
}

/// A `process` record while its handler runs: what the actor does not know of it.
struct OpenProcess {
    span_context: SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    start: Timestamp,
    wait_ns: i64,
    message_type: &'static str,
    message_id: u64,
    /// The link to the sender's span.
    link: SenderLink,
    /// A bridge's destination and delivery, if it came through one.
    delivery: Option<(Value, Arc<DeliveryParts>)>,
    body_size: Option<u32>,
}

impl ProcessSpans {
    /// Starts the `process` span for a message and returns the context the handler runs in.
    ///
    /// `sender` is the sender's span when it travelled apart from `parent`
    /// ([`TraceCarrier::Send`]); `None`: `parent`'s span.
    ///
    /// With a recorder, the span is a record, if sampled: the handler's context holds a
    /// `RecordSpan` with the record's identity, so spans made in the handler are its
    /// children and what the handler sets on it lands in the record; unsampled, the
    /// context says so and nothing is recorded. Without one, an SDK span.
    fn start(
        &self,
        parent: Parent,
        sender: Option<SpanContext>,
        relation: Relation,
        message: Arrived,
    ) -> (Context, Open) {
        let Some(recorder) = &self.recorder else {
            let parent = match sender {
                Some(sender) => parent.into_context().with_remote_span_context(sender),
                None => parent.into_context(),
            };
            let cx = self.start_sdk(parent, relation, message);
            return (cx, Open::Sdk);
        };
        let Arrived {
            stamp,
            message_id,
            message_type,
            delivered,
        } = message;
        let sender = sender.unwrap_or_else(|| parent.span_context());
        // Parented, the record is the sender's child; linked, it starts a trace of its own
        // and the sampler sees no parent.
        let none = SpanContext::NONE;
        let (parent_span, sees) = match (relation, &parent) {
            (Relation::Parent, Parent::Context(cx)) => (&sender, record::SamplerSees::Context(cx)),
            (Relation::Parent, Parent::Remote(remote)) => {
                (&sender, record::SamplerSees::Remote(remote))
            }
            (Relation::Link, _) => (&none, record::SamplerSees::Nothing),
        };
        let decided = record::decide_ids(
            recorder.as_ref(),
            sees,
            parent_span,
            &self.span_name,
            SpanKind::Consumer,
        );
        let span_context = match decided {
            record::Decided::Record(span_context) => span_context,
            // Unsampled: the handler runs in the parent's trace, marked so.
            record::Decided::Unsampled(unsampled) => {
                let cx = parent.beneath().with_remote_span_context(unsampled);
                return (cx, Open::Unsampled);
            }
            record::Decided::AsItCame => return (parent.into_context(), Open::Unsampled),
        };
        let parent = parent.beneath();
        let under = parent_span.is_valid();
        let (parent_span_id, parent_is_remote) = record::parent_ids(parent_span);
        let start = Timestamp::now();
        let wait_ns = stamp.waited_until(start).map_or(0, |d| d.as_nanos() as i64);
        let (delivery, body_size) = match delivered.map(Delivered::into_parts) {
            Some((destination, parts, body_size)) => {
                let destination = destination.unwrap_or_else(|| self.name.clone());
                (Some((destination, parts)), body_size)
            }
            None => (None, None),
        };
        record::open::begin(span_context.span_id());
        let open = OpenProcess {
            delivery,
            body_size,
            span_context: span_context.clone(),
            parent_span_id,
            parent_is_remote,
            start,
            wait_ns,
            message_type,
            message_id,
            link: match (under, sender.is_valid()) {
                (true, _) => SenderLink::Parent(sender.trace_flags()),
                (false, true) => SenderLink::Other(Box::new(sender)),
                (false, false) => SenderLink::None,
            },
        };
        // The handler's `Context::current().span()` writes into the open record.
        let cx = parent.with_span(record::RecordSpan::new(span_context));
        (cx, Open::Record(open))
    }

    /// Ends a `process` record with what was added while it was open and the handler's
    /// outcome, and hands it to the actor's recorder.
    fn end_record(&self, open: OpenProcess, outcome: &Outcome) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let end = Timestamp::now();
        let (destination, delivery) = match open.delivery {
            None => (self.name.clone(), None),
            Some((destination, parts)) => (destination, Some(parts)),
        };
        let failure = match (outcome.panic(), outcome.error()) {
            (Some(panic), _) => Some(("panic", panic)),
            (None, Some(err)) => Some((err.error_type, err.message.as_str())),
            (None, None) => None,
        };
        let mut extras = record::open::end();
        if let Some((error_type, text)) = failure {
            let extras = extras.get_or_insert_with(Default::default);
            extras
                .attributes
                .push(KeyValue::new(ERROR_TYPE, error_type));
            extras.events.push(Event::new(
                "exception",
                end.to_system_time(),
                vec![
                    KeyValue::new(EXCEPTION_TYPE, error_type),
                    KeyValue::new(EXCEPTION_MESSAGE, text.to_owned()),
                ],
                0,
            ));
            let status = Status::error(text.to_owned());
            if status > extras.status {
                extras.status = status;
            }
        }
        // Made in place as the argument: the record is copied once, into the buffer.
        recorder.record(SpanRecord {
            span_context: open.span_context,
            parent_span_id: open.parent_span_id,
            parent_is_remote: open.parent_is_remote,
            operation: Operation::Process,
            link: open.link,
            name: self.span_name.clone(),
            start: open.start,
            end,
            destination,
            message_type: open.message_type,
            message_id: open.message_id,
            mailbox_wait_ns: Some(open.wait_ns),
            // The actor's thread is named after the actor.
            thread: Some((self.name.clone(), self.thread_id)),
            delivery,
            body_size: open.body_size,
            extras: extras.map(Box::new),
        });
    }

    /// Starts the `process` span through the SDK tracer.
    fn start_sdk(&self, parent: Context, relation: Relation, message: Arrived) -> Context {
        let Arrived {
            stamp,
            message_id,
            message_type,
            delivered,
        } = message;
        let sender = parent.span().span_context().clone();
        let links = if sender.is_valid() {
            vec![Link::with_context(sender)]
        } else {
            Vec::new()
        };
        let wait_ns = stamp.waited().map_or(0, |d| d.as_nanos() as i64);
        let (system, destination) = match &delivered {
            None => (Value::from(MESSAGING_SYSTEM_VALUE), self.name.clone()),
            Some(d) => (
                d.parts().system.clone(),
                d.destination().unwrap_or(&self.name).clone(),
            ),
        };
        let mut attributes = Vec::with_capacity(9);
        attributes.extend([
            KeyValue::new(MESSAGING_SYSTEM, system),
            KeyValue::new(MESSAGING_DESTINATION_NAME, destination),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(MESSAGE_TYPE, message_type),
            KeyValue::new(MAILBOX_WAIT_NS, wait_ns),
            // The actor's thread is named after the actor.
            KeyValue::new(THREAD_NAME, self.name.clone()),
            KeyValue::new(THREAD_ID, self.thread_id),
        ]);
        push_message_id(&mut attributes, message_id);
        if let Some(d) = &delivered {
            record::push_delivered(&mut attributes, d.body_size(), Some(d.parts()));
        }
        let builder = self
            .tracer
            .span_builder(self.span_name.clone())
            .with_kind(SpanKind::Consumer)
            .with_links(links)
            .with_attributes(attributes);
        match relation {
            Relation::Parent => {
                let span = builder.start_with_context(&*self.tracer, &parent);
                parent.with_span(span)
            }
            Relation::Link => {
                let span = builder.start_with_context(&*self.tracer, &Context::new());
                parent.with_span(span)
            }
        }
    }

    /// Records a message that reached no handler as a span of no length under its sender.
    fn dead_letter(&self, parent: &Context, message_type: &'static str, reason: DeadLetterReason) {
        let mut span = self
            .tracer
            .span_builder(self.dead_letter_name.clone())
            .with_kind(SpanKind::Internal)
            .with_attributes([
                KeyValue::new(MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE),
                KeyValue::new(MESSAGING_DESTINATION_NAME, self.name.clone()),
                KeyValue::new(MESSAGE_TYPE, message_type),
                KeyValue::new(DEAD_LETTER_REASON, reason.as_str()),
            ])
            .start_with_context(&*self.tracer, parent);
        span.set_status(Status::error("message not handled"));
        span.end();
    }

    /// Records how the handler ended and ends the span.
    fn end(cx: &Context, outcome: &Outcome) {
        let span = cx.span();
        if let Some(panic) = outcome.panic() {
            record_failure(&span, "panic", panic);
        } else if let Some(err) = outcome.error() {
            record_failure(&span, err.error_type, &err.message);
        }
        span.end();
    }
}

fn record_failure(span: &opentelemetry::trace::SpanRef<'_>, error_type: &'static str, text: &str) {
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type));
    span.add_event(
        "exception",
        vec![
            KeyValue::new(EXCEPTION_TYPE, error_type),
            KeyValue::new(EXCEPTION_MESSAGE, text.to_owned()),
        ],
    );
    span.set_status(Status::error(text.to_owned()));
}
