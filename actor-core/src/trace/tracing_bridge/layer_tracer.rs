//! [`LayerTracer`]: the tracer to give the tracing-opentelemetry layer in an application
//! with actors.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::global::BoxedSpan;
use opentelemetry::trace::{Span, SpanBuilder, SpanContext, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, Key, KeyValue};

use crate::current;
use crate::trace::record::open;
use crate::trace::tracing_bridge::marker::ProcessMarker;
use crate::trace::tracing_bridge::PROCESS_SPAN_NAME;

/// A tracer for the tracing-opentelemetry layer that knows about actors (feature
/// `tracing`):
///
/// ```ignore
/// let layer = tracing_opentelemetry::layer().with_tracer(LayerTracer::new(tracer));
/// ```
///
/// (`actor-otel`'s `Telemetry::tracing_layer` does this for you.) For each span the layer
/// builds, in this order:
///
/// 1. the `process` tracing span each handler runs in becomes a [`ProcessSpanProxy`]: it
///    *is* the framework's `process` span (same span context; its events, links, status
///    and attributes go there; ending it does nothing), so there is no second `process`
///    span, `tracing` spans in the handler are children of the real one, and a bare
///    `tracing::info!` in a handler is an event on it;
/// 2. on an actor thread whose [`Instrumentation`](crate::trace::Instrumentation) gave it
///    a tracer, the span is built by that tracer: spans made through `tracing` in a handler
///    go to the actor's own pipeline, with its resource;
/// 3. anywhere else, `inner` builds it.
#[derive(Debug, Clone)]
pub struct LayerTracer<T> {
    inner: T,
}

impl<T: Tracer> LayerTracer<T> {
    /// Wraps `inner`, the tracer for spans made outside actor threads (for `actor-otel`,
    /// the system pipeline's).
    pub fn new(inner: T) -> Self {
        LayerTracer { inner }
    }

    /// The tracer spans outside actor threads are built with.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T: Tracer> Tracer for LayerTracer<T> {
    type Span = LayerSpan<T::Span>;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        if builder.name == PROCESS_SPAN_NAME {
            if let Some(forward) = ProcessMarker::claim(parent_cx) {
                return LayerSpan::Process(ProcessSpanProxy::new(builder, parent_cx, forward));
            }
        }
        match current::actor_tracer() {
            Some(tracer) => LayerSpan::Actor(tracer.build_with_context(builder, parent_cx)),
            None => LayerSpan::Inner(self.inner.build_with_context(builder, parent_cx)),
        }
    }
}

/// A span built by [`LayerTracer`]: which of its three cases made it.
#[derive(Debug)]
pub enum LayerSpan<S> {
    /// Built by the wrapped tracer (outside actor threads).
    Inner(S),
    /// Built by the tracer of the actor whose thread made it.
    Actor(BoxedSpan),
    /// The `process` tracing span of a handler: a proxy of the framework's span.
    Process(ProcessSpanProxy),
}

macro_rules! each {
    ($self:ident, $span:ident => $e:expr) => {
        match $self {
            LayerSpan::Inner($span) => $e,
            LayerSpan::Actor($span) => $e,
            LayerSpan::Process($span) => $e,
        }
    };
}

impl<S: Span> Span for LayerSpan<S> {
    fn add_event_with_timestamp<N>(
        &mut self,
        name: N,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        N: Into<Cow<'static, str>>,
    {
        each!(self, s => s.add_event_with_timestamp(name, timestamp, attributes))
    }

    fn span_context(&self) -> &SpanContext {
        each!(self, s => s.span_context())
    }

    fn is_recording(&self) -> bool {
        each!(self, s => s.is_recording())
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        each!(self, s => s.set_attribute(attribute))
    }

    fn set_status(&mut self, status: Status) {
        each!(self, s => s.set_status(status))
    }

    fn update_name<N>(&mut self, new_name: N)
    where
        N: Into<Cow<'static, str>>,
    {
        each!(self, s => s.update_name(new_name))
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        each!(self, s => s.add_link(span_context, attributes))
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        each!(self, s => s.end_with_timestamp(timestamp))
    }
}

/// The attributes the layer (and the receive loop, as tracing fields) put on the `process`
/// tracing span, which the real `process` span already has in its own form: not forwarded.
const NOT_FORWARDED: &[&str] = &[
    "code.file.path",
    "code.module.name",
    "code.line.number",
    "thread.id",
    "thread.name",
    "level",
    "target",
    "busy_ns",
    "idle_ns",
    "actor",
    "message.type",
    "trace_id",
];

fn forwarded(key: &Key) -> bool {
    !NOT_FORWARDED.contains(&key.as_str())
}

/// The `process` tracing span of a handler, as the tracing-opentelemetry layer sees it: the
/// framework's own `process` span under another handle.
///
/// Its span context is that span's. Events, links, a status other than `Unset` and
/// attributes (but those the layer adds to every span, such as `thread.id` and `code.*`,
/// which the real span has in its own form) go to the real span, as long as it is the
/// framework's `process` span; when the actor makes no `process` span (no SDK, or
/// `process` spans off) the proxy stands for the sender's span and records nothing.
/// Ending it does nothing: the receive loop ends the real span, with the handler's
/// outcome.
#[derive(Debug)]
pub struct ProcessSpanProxy {
    /// The context the handler runs in; its span is the real one.
    cx: Context,
    span_context: SpanContext,
    forward: bool,
}

impl ProcessSpanProxy {
    fn new(builder: SpanBuilder, parent_cx: &Context, forward: bool) -> Self {
        let mut proxy = ProcessSpanProxy {
            cx: parent_cx.clone(),
            span_context: parent_cx.span().span_context().clone(),
            forward,
        };
        // What the layer gathered before it built the span (events and links recorded
        // while it was lazy, attributes set through `OpenTelemetrySpanExt`).
        let SpanBuilder {
            attributes,
            events,
            links,
            ..
        } = builder;
        for attribute in attributes.into_iter().flatten() {
            proxy.set_attribute(attribute);
        }
        for event in events.into_iter().flatten() {
            proxy.add_event_with_timestamp(event.name, event.timestamp, event.attributes);
        }
        for link in links.into_iter().flatten() {
            proxy.add_link(link.span_context, link.attributes);
        }
        proxy
    }
}

impl Span for ProcessSpanProxy {
    fn add_event_with_timestamp<N>(
        &mut self,
        name: N,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        N: Into<Cow<'static, str>>,
    {
        if self.forward {
            let mut event = Some((name, attributes));
            open::with(self.span_context.span_id(), |extras| {
                if let Some((name, attributes)) = event.take() {
                    extras.events.push(opentelemetry::trace::Event::new(
                        name, timestamp, attributes, 0,
                    ));
                }
            });
            if let Some((name, attributes)) = event {
                self.cx
                    .span()
                    .add_event_with_timestamp(name, timestamp, attributes);
            }
        }
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        self.forward
            && (open::is_open(self.span_context.span_id()) || self.cx.span().is_recording())
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if self.forward && forwarded(&attribute.key) {
            let mut attribute = Some(attribute);
            open::with(self.span_context.span_id(), |extras| {
                extras.attributes.extend(attribute.take());
            });
            if let Some(attribute) = attribute {
                self.cx.span().set_attribute(attribute);
            }
        }
    }

    fn set_status(&mut self, status: Status) {
        if self.forward && status != Status::Unset {
            let mut status = Some(status);
            open::with(self.span_context.span_id(), |extras| {
                if let Some(status) = status.take() {
                    // The SDK's order: Ok > Error > Unset.
                    if status > extras.status {
                        extras.status = status;
                    }
                }
            });
            if let Some(status) = status {
                self.cx.span().set_status(status);
            }
        }
    }

    /// The real span keeps its name (`process <actor>`).
    fn update_name<N>(&mut self, _new_name: N)
    where
        N: Into<Cow<'static, str>>,
    {
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if self.forward {
            let mut link = Some((span_context, attributes));
            open::with(self.span_context.span_id(), |extras| {
                if let Some((span_context, attributes)) = link.take() {
                    extras
                        .links
                        .push(opentelemetry::trace::Link::new(span_context, attributes, 0));
                }
            });
            if let Some((span_context, attributes)) = link {
                self.cx.span().add_link(span_context, attributes);
            }
        }
    }

    /// Does nothing: the receive loop ends the real span.
    fn end_with_timestamp(&mut self, _timestamp: SystemTime) {}
}
