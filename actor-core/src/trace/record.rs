//! Compact span records: the framework's own `send` and `process` spans as fixed-shape
//! values pushed into a [`SpanRecorder`], instead of SDK span objects (the design of
//! fastrace, formerly minitrace). The SDK side turns them into exported spans on its export
//! thread; the hot path makes no span object, no attribute vector and no allocation.
//!
//! An [`Instrumentation`](crate::trace::Instrumentation) opts in by giving a recorder
//! ([`Instrumentation::system_recorder`](crate::trace::Instrumentation::system_recorder),
//! [`ActorTelemetry::recorder`](crate::trace::ActorTelemetry::recorder)); without one the
//! spans are made through its tracer as before.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId,
};
use opentelemetry::{Context, KeyValue, Value};

use crate::trace::clock::Timestamp;

/// One finished span of the framework (`send <actor>`, `process <actor>`), as recorded on
/// the hot path. Its attributes are fields; [`SpanRecord::attributes`] lists them in the
/// order an SDK span of the same shape has them. Kept small (it is copied into a buffer
/// per message): what is the same for most records is a variant, not a field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpanRecord {
    /// The span's own identity (trace id, span id, flags, trace state).
    pub span_context: SpanContext,
    /// The parent span's id ([`SpanId::INVALID`] for a root span).
    pub parent_span_id: SpanId,
    /// Whether the parent came from another process.
    pub parent_is_remote: bool,
    /// What the span stands for: its kind and messaging operation.
    pub operation: Operation,
    /// The link to the sender's span (`process` spans).
    pub link: SenderLink,
    /// The span's name (interned).
    pub name: Cow<'static, str>,
    /// When the span started.
    pub start: Timestamp,
    /// When the span ended.
    pub end: Timestamp,
    /// `messaging.destination.name`.
    pub destination: Value,
    /// `message.type`.
    pub message_type: &'static str,
    /// `messaging.message.id` (0: none).
    pub message_id: u64,
    /// `actor.mailbox.wait_ns` (`process` spans).
    pub mailbox_wait_ns: Option<i64>,
    /// `thread.name` and `thread.id`, when the span carries them.
    pub thread: Option<(Value, i64)>,
    /// What a bridge's [`Delivery`](crate::trace::Delivery) says (`None`: an in-process
    /// message, `messaging.system = "actor"`); shared by the messages of a batch.
    pub delivery: Option<Arc<DeliveryParts>>,
    /// `messaging.message.body.size`, when a bridge gave it.
    pub body_size: Option<u32>,
    /// What was added while the span was open (rare: allocated only then).
    pub extras: Option<Box<SpanExtras>>,
}

/// The messaging operation a record stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// A PRODUCER `send` span of a tell.
    Tell,
    /// A PRODUCER `send` span of an ask.
    Ask,
    /// A CONSUMER `process` span.
    Process,
    /// A PRODUCER `send` span of a bridge (a message leaving the process).
    Send,
}

impl Operation {
    /// The span kind.
    pub fn kind(self) -> SpanKind {
        match self {
            Operation::Tell | Operation::Ask | Operation::Send => SpanKind::Producer,
            Operation::Process => SpanKind::Consumer,
        }
    }

    /// `messaging.operation.type`: `send` or `process`.
    pub fn operation_type(self) -> &'static str {
        match self {
            Operation::Tell | Operation::Ask | Operation::Send => "send",
            Operation::Process => "process",
        }
    }

    /// `messaging.operation.name`: `tell`, `ask`, `process` or `send`.
    pub fn operation_name(self) -> &'static str {
        match self {
            Operation::Tell => "tell",
            Operation::Ask => "ask",
            Operation::Process => "process",
            Operation::Send => "send",
        }
    }
}

/// A record's link to its sender's span.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SenderLink {
    /// No link.
    None,
    /// To the parent span (the usual case: the sender is the parent), with the sender's
    /// trace flags; the rest is the record's own trace and parent.
    Parent(TraceFlags),
    /// To another span (a new trace linked to its sender).
    Other(Box<SpanContext>),
}

/// The parts of a bridge's [`Delivery`](crate::trace::Delivery) that are the same for
/// many messages (a batch, a destination): made once and shared by their records.
#[derive(Debug, Clone)]
pub struct DeliveryParts {
    /// `messaging.system`.
    pub system: Value,
    /// The bridge's attributes, after the fixed ones.
    pub attributes: Vec<KeyValue>,
}

/// What a span record got beyond its fixed shape: attributes, events and links added while
/// it was open (through the `tracing` bridge), the handler's failure, its status.
#[derive(Debug, Clone, Default)]
pub struct SpanExtras {
    /// Attributes after the fixed ones.
    pub attributes: Vec<KeyValue>,
    /// Events, in order.
    pub events: Vec<Event>,
    /// Links after the sender's.
    pub links: Vec<Link>,
    /// The span's status.
    pub status: Status,
}

impl SpanRecord {
    /// The attributes an SDK span of this shape carries, in the SDK's order.
    pub fn attributes(&self) -> Vec<KeyValue> {
        use crate::trace::attribute::*;
        let extra = self.extras.as_ref().map_or(0, |e| e.attributes.len());
        let delivered = self.delivery.as_ref().map_or(0, |d| d.attributes.len());
        let len = 5
            + usize::from(self.body_size.is_some())
            + usize::from(self.mailbox_wait_ns.is_some())
            + usize::from(self.message_id != 0)
            + if self.thread.is_some() { 2 } else { 0 }
            + delivered
            + extra;
        let system = match &self.delivery {
            Some(d) => d.system.clone(),
            None => Value::from(MESSAGING_SYSTEM_VALUE),
        };
        let mut out = Vec::with_capacity(len);
        out.extend([
            KeyValue::new(MESSAGING_SYSTEM, system),
            KeyValue::new(MESSAGING_DESTINATION_NAME, self.destination.clone()),
            KeyValue::new(MESSAGING_OPERATION_TYPE, self.operation.operation_type()),
            KeyValue::new(MESSAGING_OPERATION_NAME, self.operation.operation_name()),
            KeyValue::new(MESSAGE_TYPE, self.message_type),
        ]);
        let thread = |out: &mut Vec<KeyValue>| {
            if let Some((name, id)) = &self.thread {
                out.push(KeyValue::new(THREAD_NAME, name.clone()));
                out.push(KeyValue::new(THREAD_ID, *id));
            }
        };
        let message_id = |out: &mut Vec<KeyValue>| {
            if self.message_id != 0 {
                out.push(KeyValue::new(
                    MESSAGING_MESSAGE_ID,
                    self.message_id.to_string(),
                ));
            }
        };
        match self.mailbox_wait_ns {
            Some(wait) => {
                out.push(KeyValue::new(MAILBOX_WAIT_NS, wait));
                thread(&mut out);
                message_id(&mut out);
            }
            None => {
                message_id(&mut out);
                thread(&mut out);
            }
        }
        push_delivered(&mut out, self.body_size, self.delivery.as_deref());
        if let Some(extras) = &self.extras {
            out.extend(extras.attributes.iter().cloned());
        }
        out
    }

    /// The span's links: the sender's first, then those added while it was open.
    pub fn links(&self) -> Vec<Link> {
        let extra = self.extras.as_ref().map_or(0, |e| e.links.len());
        let mut links = Vec::with_capacity(usize::from(self.link != SenderLink::None) + extra);
        match &self.link {
            SenderLink::None => {}
            SenderLink::Parent(flags) => links.push(Link::with_context(SpanContext::new(
                self.span_context.trace_id(),
                self.parent_span_id,
                *flags,
                self.parent_is_remote,
                self.span_context.trace_state().clone(),
            ))),
            SenderLink::Other(sc) => links.push(Link::with_context((**sc).clone())),
        }
        if let Some(extras) = &self.extras {
            links.extend(extras.links.iter().cloned());
        }
        links
    }
}

/// A bridge's attributes as every span of a delivered message lists them (record or SDK
/// span): the body size, then the bridge's own.
pub(crate) fn push_delivered(
    out: &mut Vec<KeyValue>,
    body_size: Option<u32>,
    parts: Option<&DeliveryParts>,
) {
    use crate::trace::attribute::MESSAGING_MESSAGE_BODY_SIZE;
    if let Some(size) = body_size {
        out.push(KeyValue::new(MESSAGING_MESSAGE_BODY_SIZE, i64::from(size)));
    }
    if let Some(parts) = parts {
        out.extend(parts.attributes.iter().cloned());
    }
}

/// A body size as records keep it: bytes, `u32::MAX` past it.
pub(crate) fn body_size_of(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Where an instrumentation takes span records, and its sampler for them. Called on the
/// thread that made the span; keep both cheap (a lock-free or uncontended push).
pub trait SpanRecorder: Send + Sync + 'static {
    /// Whether a span named `name` of `kind` in trace `trace_id` is sampled; `parent` is
    /// the context it would be a child of (`None` for a new trace).
    fn sampled(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
    ) -> bool;

    /// [`sampled`](SpanRecorder::sampled) for a child of the remote span context `parent`
    /// alone, as with a context that holds only it. Override it to decide without making
    /// that context (a message from a remote sender, handed in with
    /// [`Delivery::send_from`](crate::trace::Delivery::send_from)).
    fn sampled_under_remote(
        &self,
        parent: &SpanContext,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
    ) -> bool {
        let cx = Context::new().with_remote_span_context(parent.clone());
        self.sampled(Some(&cx), trace_id, name, kind)
    }

    /// Takes a finished span.
    fn record(&self, record: SpanRecord);
}

/// A recorder shared by the threads that record into it.
pub type SharedRecorder = Arc<dyn SpanRecorder>;

/// Whether a record starts: sampled, its own span context; unsampled, the context to
/// carry instead.
pub(crate) enum Decision {
    /// Sampled: record it.
    Record {
        /// The caller's context, as given.
        cx: Context,
        /// The record's own identity, sampled.
        span_context: SpanContext,
    },
    /// Unsampled: nothing is recorded; carry this context (in the parent's trace, marked
    /// unsampled, or as it came when it already was).
    Unsampled(Context),
}

/// Asks `recorder` whether a record `name` of `kind` starts as a child of `parent` (invalid:
/// in a trace of its own), in the caller's context `cx`, which the sampler is shown as the
/// parent context. The framework's `send` records start here; `process` records and a
/// bridge's `send` record start at [`decide_ids`], which makes no context.
pub(crate) fn decide(
    recorder: &dyn SpanRecorder,
    cx: Context,
    parent: &SpanContext,
    name: &str,
    kind: SpanKind,
) -> Decision {
    match decide_ids(recorder, SamplerSees::Context(&cx), parent, name, kind) {
        Decided::Record(span_context) => Decision::Record { cx, span_context },
        Decided::Unsampled(unsampled) => {
            Decision::Unsampled(cx.with_remote_span_context(unsampled))
        }
        Decided::AsItCame => Decision::Unsampled(cx),
    }
}

/// [`decide`] without a context made: the identities alone.
pub(crate) enum Decided {
    /// Sampled: record it, with this identity.
    Record(SpanContext),
    /// Unsampled: carry this identity (in the parent's trace, marked unsampled).
    Unsampled(SpanContext),
    /// Unsampled, and the parent already was: carry the caller's context as it is.
    AsItCame,
}

/// What the sampler is shown as a record's parent.
pub(crate) enum SamplerSees<'a> {
    /// No parent: a new trace.
    Nothing,
    /// This context.
    Context(&'a Context),
    /// A context that holds this remote span context alone (made only if the sampler
    /// needs one).
    Remote(&'a SpanContext),
}

/// [`decide`] without a context made: the sampler is shown `sees`, and the identities
/// come back rather than contexts.
pub(crate) fn decide_ids(
    recorder: &dyn SpanRecorder,
    sees: SamplerSees<'_>,
    parent: &SpanContext,
    name: &str,
    kind: SpanKind,
) -> Decided {
    let under = parent.is_valid();
    let trace_id = if under {
        parent.trace_id()
    } else {
        new_trace_id()
    };
    let sampled = match sees {
        SamplerSees::Nothing => recorder.sampled(None, trace_id, name, kind),
        SamplerSees::Context(cx) => recorder.sampled(Some(cx), trace_id, name, kind),
        SamplerSees::Remote(sender) => recorder.sampled_under_remote(sender, trace_id, name, kind),
    };
    let state = if under {
        parent.trace_state().clone()
    } else {
        opentelemetry::trace::TraceState::NONE
    };
    if !sampled {
        if under && !parent.is_sampled() {
            // Already an unsampled trace: carried as it is.
            return Decided::AsItCame;
        }
        return Decided::Unsampled(SpanContext::new(
            trace_id,
            new_span_id(),
            TraceFlags::default(),
            false,
            state,
        ));
    }
    Decided::Record(SpanContext::new(
        trace_id,
        new_span_id(),
        TraceFlags::SAMPLED,
        false,
        state,
    ))
}

/// A record's `parent_span_id` and `parent_is_remote` for a child of `parent` (invalid:
/// none).
pub(crate) fn parent_ids(parent: &SpanContext) -> (SpanId, bool) {
    if parent.is_valid() {
        (parent.span_id(), parent.is_remote())
    } else {
        (SpanId::INVALID, false)
    }
}

/// A fresh random trace id (never the invalid one).
pub(crate) fn new_trace_id() -> TraceId {
    loop {
        let id = fastrand::u128(..);
        if id != 0 {
            return TraceId::from(id);
        }
    }
}

/// A fresh random span id (never the invalid one).
pub(crate) fn new_span_id() -> SpanId {
    SpanId::from(fastrand::u64(1..))
}

/// How `send` spans are made on this thread.
pub(crate) enum ThreadRecorder {
    /// Not an instrumented actor's thread: the system's choice.
    NotActor,
    /// An actor thread whose spans are SDK spans.
    Sdk,
    /// An actor thread with this recorder.
    Records(SharedRecorder),
}

thread_local! {
    /// The recorder of the instrumented actor running on this thread.
    static ACTOR_RECORDER: RefCell<Option<Option<SharedRecorder>>> = const { RefCell::new(None) };
}

/// Marks this thread as an instrumented actor's, with its recorder (`None`: SDK spans).
pub(crate) fn enter_actor(recorder: Option<SharedRecorder>) {
    ACTOR_RECORDER.with(|r| *r.borrow_mut() = Some(recorder));
}

/// The recorder of this thread's actor.
pub(crate) fn actor_recorder() -> ThreadRecorder {
    ACTOR_RECORDER.with(|r| match &*r.borrow() {
        None => ThreadRecorder::NotActor,
        Some(None) => ThreadRecorder::Sdk,
        Some(Some(recorder)) => ThreadRecorder::Records(recorder.clone()),
    })
}

thread_local! {
    /// The extras of the `process` record open on this (actor) thread, with its span id:
    /// what the `tracing` bridge's proxy and a refused send's event add to it.
    static OPEN: RefCell<Option<(SpanId, SpanExtras)>> = const { RefCell::new(None) };
}

/// The record of the handler running on this thread, for additions while it is open.
pub(crate) mod open {
    use super::*;

    /// Marks the `process` record `span_id` open on this thread.
    pub(crate) fn begin(span_id: SpanId) {
        OPEN.with(|o| *o.borrow_mut() = Some((span_id, SpanExtras::default())));
    }

    /// Closes it, returning what was added (`None`: nothing).
    pub(crate) fn end() -> Option<SpanExtras> {
        OPEN.with(|o| o.borrow_mut().take())
            .and_then(|(_, extras)| {
                let empty = extras.attributes.is_empty()
                    && extras.events.is_empty()
                    && extras.links.is_empty()
                    && extras.status == Status::Unset;
                (!empty).then_some(extras)
            })
    }

    /// Runs `f` on the extras of the open record `span_id`; `false` when it is not open here.
    pub(crate) fn with(span_id: SpanId, f: impl FnOnce(&mut SpanExtras)) -> bool {
        OPEN.with(|o| match &mut *o.borrow_mut() {
            Some((id, extras)) if *id == span_id => {
                f(extras);
                true
            }
            _ => false,
        })
    }

    /// Whether the record `span_id` is open on this thread.
    pub(crate) fn is_open(span_id: SpanId) -> bool {
        OPEN.with(|o| matches!(&*o.borrow(), Some((id, _)) if *id == span_id))
    }
}

/// The `process` span as a handler sees it through the OpenTelemetry API
/// (`Context::current().span()`): its identity, and attributes, events, links and status
/// written into the open record while the handler runs on this thread (elsewhere, or after
/// the handler, it records nothing). The record is ended by the receive loop, not here.
#[derive(Debug)]
pub(crate) struct RecordSpan {
    span_context: SpanContext,
}

impl RecordSpan {
    /// The span of the open record `span_context`.
    pub(crate) fn new(span_context: SpanContext) -> Self {
        RecordSpan { span_context }
    }

    fn with(&self, f: impl FnOnce(&mut SpanExtras)) {
        open::with(self.span_context.span_id(), f);
    }
}

impl opentelemetry::trace::Span for RecordSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        self.with(|e| e.events.push(Event::new(name, timestamp, attributes, 0)));
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        open::is_open(self.span_context.span_id())
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.with(|e| e.attributes.push(attribute));
    }

    fn set_status(&mut self, status: Status) {
        // As the SDK: `Ok` is final, and `Unset` changes nothing.
        self.with(|e| {
            if e.status != Status::Ok && status != Status::Unset {
                e.status = status;
            }
        });
    }

    fn update_name<T>(&mut self, _new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        // The framework's span keeps its name (`process <actor>`).
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.with(|e| e.links.push(Link::new(span_context, attributes, 0)));
    }

    fn end_with_timestamp(&mut self, _timestamp: SystemTime) {
        // The receive loop ends the record when the handler returns.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_valid() {
        let a = new_trace_id();
        let b = new_trace_id();
        assert_ne!(a, TraceId::INVALID);
        assert_ne!(a, b);
        assert_ne!(new_span_id(), SpanId::INVALID);
        assert_ne!(new_span_id(), new_span_id());
    }

    /// A record is copied into its thread's buffer per message: keep it within the size
    /// measured in BENCHMARKS.md (it was 400 bytes before the variants).
    #[test]
    fn a_record_stays_small() {
        let size = std::mem::size_of::<SpanRecord>();
        eprintln!("SpanRecord: {size} bytes");
        assert!(size <= 272, "{size}");
    }
}
