//! Tracing through the OpenTelemetry API only: what the envelope carries, the `send` and
//! `process` spans, and the [`Instrumentation`] extension point that `actor-otel` plugs into.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::global::{BoxedSpan, BoxedTracer};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Link, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;

use crate::{ActorId, ReplyError};

/// Value of `messaging.system` on every span this crate makes.
pub const MESSAGING_SYSTEM: &str = "actor-core";
/// Attribute: the Rust type of the message.
pub const MESSAGE_TYPE: &str = "actor.message.type";
/// Attribute: nanoseconds the message waited in the mailbox before its handler started.
pub const MAILBOX_WAIT_NS: &str = "actor.mailbox.wait_ns";

/// Static facts about one actor, handed to instrumentation hooks on the actor's thread.
#[derive(Debug, Clone)]
pub struct ActorInfo {
    /// The actor's unique id in its system.
    pub id: ActorId,
    /// The actor's name (also its thread's name).
    pub name: Arc<str>,
    /// The name of the system the actor belongs to.
    pub system: Arc<str>,
    /// The managed thread id of the actor's thread (unique per process, never reused).
    pub thread_id: u64,
    /// The CPU core the thread is bound to, if any.
    pub core: Option<usize>,
}

/// What an actor's thread gets from [`Instrumentation`]: its tracer and a teardown.
pub struct ActorTelemetry {
    /// The tracer for the actor's `process` spans, its `send` spans and [`Ctx::tracer`](crate::Ctx::tracer).
    pub tracer: BoxedTracer,
    /// Runs on the actor's thread after the mailbox is drained and the `stopped` hook ran:
    /// the place to flush and shut down a per-actor pipeline.
    pub teardown: Option<Box<dyn FnOnce()>>,
}

impl std::fmt::Debug for ActorTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorTelemetry")
            .field("teardown", &self.teardown.is_some())
            .finish()
    }
}

/// The extension point for an OpenTelemetry SDK (see `actor-otel`). Installing one turns on
/// the `send`/`process` spans; without one, messages still carry and restore the caller's
/// context, so spans a handler makes through the global tracer join the caller's trace.
pub trait Instrumentation: Send + Sync + 'static {
    /// The tracer for spans made outside actor threads (the caller side, the system's own
    /// pipeline).
    fn system_tracer(&self) -> BoxedTracer;

    /// Called on each actor's thread before its state is built.
    fn actor_started(&self, actor: &ActorInfo) -> ActorTelemetry;

    /// Called once per system that uses this instrumentation, when the system is built. An
    /// instrumentation shared by several systems can count them here, so that one system's
    /// [`system_stopped`](Instrumentation::system_stopped) does not end the others' pipeline.
    fn system_attached(&self) {}

    /// Called once, after every actor has stopped: flush the system's own pipeline here.
    fn system_stopped(&self) {}

    /// The propagator this instrumentation uses for carriers from outside, if it has one of
    /// its own; `None` leaves the choice to the system (its [`Propagation::Carrier`]
    /// propagator, else the global one).
    fn propagator(&self) -> Option<Arc<dyn TextMapPropagator + Send + Sync>> {
        None
    }
}

/// Instrumentation through the global tracer provider (`opentelemetry::global`): for
/// applications that install their SDK themselves. No per-actor pipeline, no teardown.
#[derive(Debug, Default, Clone, Copy)]
pub struct GlobalInstrumentation;

impl Instrumentation for GlobalInstrumentation {
    fn system_tracer(&self) -> BoxedTracer {
        opentelemetry::global::tracer(MESSAGING_SYSTEM)
    }

    fn actor_started(&self, _actor: &ActorInfo) -> ActorTelemetry {
        ActorTelemetry {
            tracer: opentelemetry::global::tracer(MESSAGING_SYSTEM),
            teardown: None,
        }
    }
}

/// How the sender's context travels inside the envelope.
#[derive(Clone, Default)]
pub enum Propagation {
    /// Carry the `Context` itself: in-process, no formatting on the hot path. The default.
    #[default]
    InProcess,
    /// Inject into a text carrier with this propagator (W3C, B3, Jaeger, a composite…) and
    /// extract it in the receive loop, as across a process or language boundary.
    Carrier(Arc<dyn TextMapPropagator + Send + Sync>),
}

impl std::fmt::Debug for Propagation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Propagation::InProcess => f.write_str("InProcess"),
            Propagation::Carrier(_) => f.write_str("Carrier(..)"),
        }
    }
}

/// How a `process` span relates to the span of the message's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Relation {
    /// Child of the sender's span (and linked to it): one trace.
    #[default]
    Parent,
    /// A new trace whose root links to the sender's span. The default for self-sends, so a
    /// timer or polling loop does not grow one endless trace.
    Link,
}

/// One actor's choice of [`Relation`], for messages from others and from itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relations {
    pub from_others: Relation,
    pub from_self: Relation,
}

impl Relations {
    /// The relation for a message, by whether the actor sent it to itself.
    pub fn pick(self, from_self: bool) -> Relation {
        if from_self {
            self.from_self
        } else {
            self.from_others
        }
    }
}

impl Default for Relations {
    /// Children of other senders; self-sends linked.
    fn default() -> Self {
        Relations {
            from_others: Relation::Parent,
            from_self: Relation::Link,
        }
    }
}

/// System-wide tracing switches.
#[derive(Debug, Clone)]
pub struct TracingOptions {
    /// Make a PRODUCER `send <actor>` span around each `tell` (default: on).
    pub send_span_on_tell: bool,
    /// Make a PRODUCER `send <actor>` span around each `ask` (default: off; the caller's own
    /// span usually covers the round trip).
    pub send_span_on_ask: bool,
    /// Make a CONSUMER `process <actor>` span around each handler (default: on).
    pub process_spans: bool,
    /// Record `messaging.message.id` (a per-actor sequence number, the same on a message's
    /// `send` and `process` spans) on every span (default: off). The spans are already joined
    /// by parent and link; the id costs a `String` per span, allocated on one thread and
    /// freed on the export thread.
    pub message_ids: bool,
    /// How the context travels in the envelope.
    pub propagation: Propagation,
}

impl Default for TracingOptions {
    fn default() -> Self {
        TracingOptions {
            send_span_on_tell: true,
            send_span_on_ask: false,
            process_spans: true,
            message_ids: false,
            propagation: Propagation::InProcess,
        }
    }
}

/// Which send operation made an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendOp {
    Tell,
    Ask,
}

impl SendOp {
    fn as_str(self) -> &'static str {
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
    /// Text headers injected by the configured propagator.
    // Boxed so the common in-process envelope stays small (the map is 48 bytes inline).
    #[allow(clippy::box_collection)]
    Headers(Box<HashMap<String, String>>),
}

/// What the send side records in an envelope for the receive side's span.
pub(crate) struct TraceMeta {
    pub carrier: TraceCarrier,
    pub stamp: Stamp,
    /// 0 when message ids are off.
    pub message_id: u64,
}

/// Whether a message is a self-send, and when it was sent (only with instrumentation), in
/// one word: every envelope crosses between cores, so every byte of it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    const FROM_SELF: u64 = 1 << 63;

    /// A stamp for a message sent now (`timed`) or untimed.
    pub fn new(from_self: bool, timed: bool) -> Self {
        let sent = if timed {
            // Nanoseconds since the process's first stamp, at least 1 (0 means untimed);
            // 2^63 ns is 292 years.
            let epoch = *EPOCH.get_or_init(Instant::now);
            (epoch.elapsed().as_nanos() as u64).clamp(1, Self::FROM_SELF - 1)
        } else {
            0
        };
        Stamp(sent | if from_self { Self::FROM_SELF } else { 0 })
    }

    /// Whether the actor sent the message to itself.
    pub fn is_self_send(self) -> bool {
        self.0 & Self::FROM_SELF != 0
    }

    /// How long ago the message was sent, if it was timed.
    pub fn waited(self) -> Option<std::time::Duration> {
        let sent = self.0 & !Self::FROM_SELF;
        let epoch = EPOCH.get()?;
        (sent != 0).then(|| {
            epoch
                .elapsed()
                .saturating_sub(std::time::Duration::from_nanos(sent))
        })
    }
}

/// The origin of [`Stamp`] times.
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// The per-system tracing state shared by every actor reference.
pub(crate) struct Tracing {
    pub options: TracingOptions,
    pub instrumentation: Option<Arc<dyn Instrumentation>>,
    system_tracer: Option<BoxedTracer>,
}

thread_local! {
    /// Set on actor threads: the id of the actor running here and its tracer.
    static CURRENT_ACTOR: std::cell::RefCell<Option<(ActorId, Option<std::rc::Rc<BoxedTracer>>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Managed thread ids (`thread.id`), unique per process and never reused.
static NEXT_THREAD_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    static THREAD_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A fresh managed thread id.
pub(crate) fn new_thread_id() -> u64 {
    NEXT_THREAD_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Gives this thread the managed id `id` (actor threads take the id in their [`ActorInfo`]).
pub(crate) fn set_thread_id(id: u64) {
    THREAD_ID.with(|t| t.set(id));
}

/// The managed `thread.id` of the calling thread: the same number an actor's spans carry,
/// assigned on first use for other threads.
pub fn current_thread_id() -> u64 {
    THREAD_ID.with(|t| {
        if t.get() == 0 {
            t.set(new_thread_id());
        }
        t.get()
    })
}

/// The id of the actor whose thread is calling, if it is an actor thread.
pub fn current_actor_id() -> Option<ActorId> {
    current_actor()
}

/// The id of the actor whose thread this is, if any.
pub(crate) fn current_actor() -> Option<ActorId> {
    CURRENT_ACTOR.with(|c| c.borrow().as_ref().map(|(id, _)| *id))
}

/// Marks this thread as the thread of actor `id`.
pub(crate) fn set_current_actor(id: ActorId, tracer: Option<std::rc::Rc<BoxedTracer>>) {
    CURRENT_ACTOR.with(|c| *c.borrow_mut() = Some((id, tracer)));
}

/// Ends a `send` span, marking it Error when the message was not delivered.
pub(crate) fn end_send_span(mut span: BoxedSpan, delivered: bool) {
    use opentelemetry::trace::Span as _;
    if !delivered {
        span.set_status(Status::error("message not delivered"));
    }
    span.end();
}

impl Tracing {
    pub fn new(options: TracingOptions, instrumentation: Option<Arc<dyn Instrumentation>>) -> Self {
        let system_tracer = instrumentation.as_ref().map(|i| i.system_tracer());
        Tracing {
            options,
            instrumentation,
            system_tracer,
        }
    }

    /// Captures the caller's context for a message to `target`; with instrumentation, also
    /// starts the `send` span that the message's `process` span will follow.
    ///
    /// The sender keeps the `send` span (it ends it once the message is delivered); the
    /// message carries only the span's identity. The span object is thus made, ended and
    /// freed on the sender's thread, never on the actor's.
    pub fn capture(
        &self,
        target: &crate::cell::ActorCell,
        op: SendOp,
        message_type: &'static str,
        from_self: bool,
    ) -> (TraceMeta, Option<BoxedSpan>) {
        let mut cx = Context::current();
        let mut send_span = None;
        let mut message_id = 0;
        if self.instrumentation.is_some() {
            if self.options.message_ids {
                message_id = target.next_message_id();
            }
            let wanted = match op {
                SendOp::Tell => self.options.send_span_on_tell,
                SendOp::Ask => self.options.send_span_on_ask,
            };
            if wanted {
                use opentelemetry::trace::Span as _;
                let span = self.with_caller_tracer(|tracer| {
                    start_send_span(tracer, target, op, message_type, message_id, &cx)
                });
                // `with_remote_span_context` wraps the identity as given: it stays local
                // (`is_remote` false), as the sender is in this process.
                cx = cx.with_remote_span_context(span.span_context().clone());
                send_span = Some(span);
            }
        }
        let carrier = match &self.options.propagation {
            Propagation::InProcess => TraceCarrier::Context(cx),
            Propagation::Carrier(propagator) => {
                let mut headers = HashMap::new();
                propagator.inject_context(&cx, &mut headers);
                TraceCarrier::Headers(Box::new(headers))
            }
        };
        let meta = TraceMeta {
            carrier,
            stamp: Stamp::new(from_self, self.instrumentation.is_some()),
            message_id,
        };
        (meta, send_span)
    }

    /// The sender's context, restored on the receive side.
    pub fn restore(&self, carrier: TraceCarrier) -> Context {
        match carrier {
            TraceCarrier::Context(cx) => cx,
            TraceCarrier::Headers(headers) => match &self.options.propagation {
                Propagation::Carrier(p) => {
                    crate::carrier::extract_with(p.as_ref(), &*headers, &Default::default())
                }
                Propagation::InProcess => crate::carrier::extract(&*headers),
            },
        }
    }

    fn with_caller_tracer<R>(&self, f: impl FnOnce(&BoxedTracer) -> R) -> R {
        let actor_tracer = CURRENT_ACTOR.with(|c| c.borrow().as_ref().and_then(|(_, t)| t.clone()));
        match (&actor_tracer, &self.system_tracer) {
            (Some(t), _) => f(t),
            (None, Some(t)) => f(t),
            (None, None) => f(&opentelemetry::global::tracer(MESSAGING_SYSTEM)),
        }
    }
}

fn start_send_span(
    tracer: &BoxedTracer,
    target: &crate::cell::ActorCell,
    op: SendOp,
    message_type: &'static str,
    message_id: u64,
    parent: &Context,
) -> BoxedSpan {
    // Room for the message id and for `thread.name`/`thread.id`, which an SDK may stamp on
    // spans from threads that are not actors (as `actor-otel` does): no regrowth.
    let mut attributes = Vec::with_capacity(8);
    attributes.extend([
        KeyValue::new(semconv::MESSAGING_SYSTEM, MESSAGING_SYSTEM),
        KeyValue::new(
            semconv::MESSAGING_DESTINATION_NAME,
            target.name_value.clone(),
        ),
        KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "send"),
        KeyValue::new(semconv::MESSAGING_OPERATION_NAME, op.as_str()),
        KeyValue::new(MESSAGE_TYPE, message_type),
    ]);
    push_message_id(&mut attributes, message_id);
    tracer
        .span_builder(target.send_span_name.clone())
        .with_kind(SpanKind::Producer)
        .with_attributes(attributes)
        .start_with_context(tracer, parent)
}

/// Adds `messaging.message.id` when message ids are on (a nonzero id).
fn push_message_id(attributes: &mut Vec<KeyValue>, message_id: u64) {
    if message_id != 0 {
        attributes.push(KeyValue::new(
            semconv::MESSAGING_MESSAGE_ID,
            message_id.to_string(),
        ));
    }
}

/// The receive side's span maker, one per actor thread.
pub(crate) struct ProcessSpans {
    pub tracer: std::rc::Rc<BoxedTracer>,
    /// The actor's name as an attribute value.
    pub name: opentelemetry::Value,
    pub span_name: Cow<'static, str>,
    pub thread_id: i64,
    pub relations: Relations,
}

/// How one handler call ended, for its span.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub error: Option<ReplyError>,
    pub panic: Option<String>,
}

impl ProcessSpans {
    /// Starts the `process` span for a message and returns the context the handler runs in.
    pub fn start(&self, parent: Context, meta: &TraceMeta, message_type: &'static str) -> Context {
        let relation = self.relations.pick(meta.stamp.is_self_send());
        let sender = parent.span().span_context().clone();
        let links = if sender.is_valid() {
            vec![Link::with_context(sender)]
        } else {
            Vec::new()
        };
        let wait_ns = meta.stamp.waited().map_or(0, |d| d.as_nanos() as i64);
        let mut attributes = Vec::with_capacity(9);
        attributes.extend([
            KeyValue::new(semconv::MESSAGING_SYSTEM, MESSAGING_SYSTEM),
            KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, self.name.clone()),
            KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(semconv::MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(MESSAGE_TYPE, message_type),
            KeyValue::new(MAILBOX_WAIT_NS, wait_ns),
            // The actor's thread is named after the actor.
            KeyValue::new(semconv::THREAD_NAME, self.name.clone()),
            KeyValue::new(semconv::THREAD_ID, self.thread_id),
        ]);
        push_message_id(&mut attributes, meta.message_id);
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

    /// Records how the handler ended and ends the span.
    pub fn end(cx: &Context, outcome: &Outcome) {
        let span = cx.span();
        if let Some(panic) = &outcome.panic {
            record_failure(&span, "panic", panic);
        } else if let Some(err) = &outcome.error {
            record_failure(&span, err.error_type, &err.message);
        }
        span.end();
    }
}

fn record_failure(span: &opentelemetry::trace::SpanRef<'_>, error_type: &'static str, text: &str) {
    span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type));
    span.add_event(
        "exception",
        vec![
            KeyValue::new(semconv::EXCEPTION_TYPE, error_type),
            KeyValue::new(semconv::EXCEPTION_MESSAGE, text.to_owned()),
        ],
    );
    span.set_status(Status::error(text.to_owned()));
}

/// Runs a future with `cx` as the active context on every poll, like
/// `opentelemetry::context::FutureExt::with_context`, but moves the context in on the first
/// poll instead of cloning it: a handler that finishes in one poll costs no extra reference
/// count traffic on a context that the sender's thread is also touching.
#[pin_project::pin_project]
pub struct InContext<F> {
    #[pin]
    inner: F,
    cx: Option<Context>,
}

impl<F> InContext<F> {
    /// Wraps `inner` so `cx` is the active context whenever it is polled.
    pub fn new(inner: F, cx: Context) -> Self {
        InContext {
            inner,
            cx: Some(cx),
        }
    }
}

impl<F: std::future::Future> std::future::Future for InContext<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        task: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        let cx = this.cx.take().unwrap_or_default();
        let _active = cx.attach();
        let poll = this.inner.poll(task);
        if poll.is_pending() {
            // Keep it for the next poll (the guard still holds it as the current one).
            *this.cx = Some(Context::current());
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::Stamp;

    #[test]
    fn a_stamp_keeps_the_self_send_flag_apart_from_the_time() {
        for from_self in [false, true] {
            let untimed = Stamp::new(from_self, false);
            assert_eq!(untimed.is_self_send(), from_self);
            assert_eq!(untimed.waited(), None);

            let timed = Stamp::new(from_self, true);
            std::thread::sleep(std::time::Duration::from_millis(2));
            assert_eq!(timed.is_self_send(), from_self);
            let waited = timed.waited().expect("a timed stamp knows its wait");
            assert!(waited >= std::time::Duration::from_millis(2), "{waited:?}");
            assert!(waited < std::time::Duration::from_secs(60), "{waited:?}");
        }
    }
}
