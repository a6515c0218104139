//! Traces across the wire: the PRODUCER `send <subject>` span of a caller, the context
//! injected into and extracted from message headers (through the configured propagator,
//! under the [`CarrierPolicy`](actor_core::trace::carrier::CarrierPolicy)), and the
//! [`Delivery`] that makes the serving actor's own `process` span say it came over NATS.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Span, SpanContext, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_CONSUMER_GROUP_NAME, MESSAGING_DESTINATION_NAME,
    MESSAGING_MESSAGE_BODY_SIZE, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
};

use actor_core::trace::attribute::MESSAGE_TYPE;
use actor_core::trace::carrier::{extract_with, W3cPropagator};
use actor_core::trace::{BridgeSend, Delivery};

use crate::batch::{Frame, FrameExtractor, FrameHeaders};
use crate::connect::Inner;
use crate::outbox::Destination;

pub use crate::names::{MESSAGING_SYSTEM_NATS, SCOPE};

/// Runs `f` with the propagator this connection uses: its own, else the global one, else
/// W3C (the global default reads nothing).
fn with_propagator<T>(inner: &Inner, f: impl FnMut(&dyn TextMapPropagator) -> T) -> T {
    propagator_in_effect(inner.propagator.as_deref(), f)
}

/// [`with_propagator`] for a connection whose own propagator is `own`.
fn propagator_in_effect<T>(
    own: Option<&(dyn TextMapPropagator + Send + Sync)>,
    mut f: impl FnMut(&dyn TextMapPropagator) -> T,
) -> T {
    if let Some(own) = own {
        return f(own);
    }
    opentelemetry::global::get_text_map_propagator(|global| {
        if global.fields().next().is_none() {
            f(&W3cPropagator::new())
        } else {
            f(global)
        }
    })
}

/// Whether the propagator in effect ([`with_propagator`]) is the built-in W3C one
/// ([`W3cPropagator::is`]): the fallback, or as `Telemetry` installs it.
fn builtin_w3c(inner: &Inner) -> bool {
    with_propagator(inner, W3cPropagator::is)
}

/// The caller's side of one message: its `send` span (a compact record, or an SDK span
/// when a tracer provider records it) and the headers that carry it.
pub(crate) enum SendSpan {
    /// The context holding the recording SDK span, if any.
    Sdk(Option<Context>),
    /// The record, if sampled (inline: the tell's future, which holds it, is boxed once).
    Record(Option<BridgeSend>),
}

impl SendSpan {
    /// Starts `send <subject>` as a child of the current context and injects it into
    /// `headers` (NATS headers, or a batch frame's). Without a recording span (no SDK), the
    /// current context is injected as is.
    pub(crate) fn start(
        inner: &Inner,
        to: &Destination,
        body_size: usize,
        headers: &mut dyn Injector,
    ) -> SendSpan {
        let parent = Context::current();
        if let Some(recorder) = &inner.recorder {
            let (cx, record) = BridgeSend::start(
                recorder,
                parent,
                to.span_name.clone(),
                to.subject_value.clone(),
                to.message_type,
                to.delivery.clone(),
                Some(body_size),
            );
            with_propagator(inner, |p| p.inject_context(&cx, headers));
            return SendSpan::Record(record);
        }
        let tracer = inner.tracer.as_ref();
        let span = tracer
            .span_builder(to.span_name.clone())
            .with_kind(SpanKind::Producer)
            .with_attributes([
                KeyValue::new(MESSAGING_SYSTEM, MESSAGING_SYSTEM_NATS),
                KeyValue::new(MESSAGING_DESTINATION_NAME, to.subject_value.clone()),
                KeyValue::new(MESSAGING_OPERATION_TYPE, "send"),
                KeyValue::new(MESSAGING_OPERATION_NAME, "send"),
                KeyValue::new(MESSAGING_MESSAGE_BODY_SIZE, body_size as i64),
                KeyValue::new(MESSAGE_TYPE, to.message_type),
            ])
            .start_with_context(tracer, &parent);
        if span.is_recording() {
            let cx = parent.with_span(span);
            with_propagator(inner, |p| p.inject_context(&cx, headers));
            SendSpan::Sdk(Some(cx))
        } else {
            with_propagator(inner, |p| p.inject_context(&parent, headers));
            SendSpan::Sdk(None)
        }
    }

    /// [`start`](Self::start) into a batch frame. With a recorder and the built-in W3C
    /// propagator in effect ([`builtin_w3c`]), and no baggage to carry, the record's
    /// identity is written into the frame as it is: no context and no header string made
    /// per tell. Otherwise as [`start`](Self::start).
    pub(crate) fn start_in_frame(
        inner: &Inner,
        to: &Destination,
        body_size: usize,
        frame: &mut FrameHeaders,
    ) -> SendSpan {
        let Some(recorder) = &inner.recorder else {
            return Self::start(inner, to, body_size, frame);
        };
        // A clone, not a borrow: the sampler may attach contexts of its own.
        let cx = Context::current();
        if !builtin_w3c(inner) || !cx.baggage().is_empty() {
            return Self::start(inner, to, body_size, frame);
        }
        let (carried, record) = BridgeSend::start_in(
            recorder,
            &cx,
            to.span_name.clone(),
            to.subject_value.clone(),
            to.message_type,
            to.delivery.clone(),
            Some(body_size),
        );
        let span = cx.span();
        frame.put_trace(carried.as_ref().unwrap_or(span.span_context()));
        SendSpan::Record(record)
    }

    /// Ends the span; `failure` marks it as an error.
    pub(crate) fn end(self, failure: Option<&str>) {
        match self {
            SendSpan::Sdk(Some(cx)) => {
                let span = cx.span();
                if let Some(text) = failure {
                    span.set_status(Status::error(text.to_owned()));
                }
                span.end();
            }
            SendSpan::Record(Some(record)) => record.end(failure),
            SendSpan::Sdk(None) | SendSpan::Record(None) => {}
        }
    }
}

/// How messages arrive on a served subject, for their `process` spans: `messaging.system
/// = "nats"`, the subject, the queue group and, for a batch, its size. Made once per
/// subject (and per batch); each message gets a copy that shares it.
pub(crate) fn arrival(subject: &Value, group: Option<&Value>, batch: Option<usize>) -> Delivery {
    let mut attributes = Vec::with_capacity(2);
    if let Some(count) = batch {
        attributes.push(KeyValue::new(MESSAGING_BATCH_MESSAGE_COUNT, count as i64));
    }
    if let Some(group) = group {
        attributes.push(KeyValue::new(MESSAGING_CONSUMER_GROUP_NAME, group.clone()));
    }
    Delivery::new(MESSAGING_SYSTEM_NATS, &Context::new())
        .destination(subject.clone())
        .with_attributes(attributes)
}

/// The serving side: the caller's context from `headers` (a message's NATS headers or its
/// batch frame's) and a copy of `arrival` saying the message of `body_size` bytes came over
/// NATS (`None` when the actor makes no `process` span to put it on).
pub(crate) fn received(
    inner: &Inner,
    headers: Option<&dyn Extractor>,
    arrival: Option<(&Delivery, usize)>,
) -> Received {
    let cx = match headers {
        Some(h) => with_propagator(inner, |p| extract_with(p, h, &inner.carrier_policy)),
        None => Context::new(),
    };
    Received::new(cx, arrival)
}

/// How many frames of a batch are read at a time (their contexts under one propagator
/// lookup).
pub(crate) const CHUNK: usize = 32;

/// [`received`] for each of a chunk of a batch's frames, appended to `out`, the propagator
/// looked up once for the chunk (the global one sits behind a lock that every caller's
/// thread takes too).
pub(crate) fn received_frames(
    inner: &Inner,
    frames: &[Frame],
    arrival: Option<&Delivery>,
    out: &mut Vec<Received>,
) {
    with_propagator(inner, |propagator| {
        // The usual traced frame holds a `traceparent` alone: with the built-in W3C
        // propagator in effect, it is read once, with no extractor.
        let w3c = W3cPropagator::is(propagator).then(W3cPropagator::new);
        out.extend(frames.iter().map(|frame| {
            let policy = &inner.carrier_policy;
            let arrival = arrival.map(|arrival| (arrival, frame.body.len()));
            match (&w3c, frame.lone_traceparent()) {
                (Some(w3c), Some(value)) => {
                    Received::remote(w3c.traceparent_sender(value, policy), arrival)
                }
                _ => {
                    let extractor = FrameExtractor::new(frame);
                    Received::new(extract_with(propagator, &extractor, policy), arrival)
                }
            }
        }));
    })
}

/// A message's sender and how it arrived, to send it to the actor with.
#[derive(Clone)]
pub(crate) enum Received {
    /// The sender's context, with a copy of the arrival when the actor makes `process`
    /// spans.
    Context(Context, Option<Delivery>),
    /// A remote sender read straight from its `traceparent`, with the copy of the arrival
    /// made for it (the actor makes `process` spans).
    Remote(SpanContext, Delivery),
}

impl Received {
    /// `cx`, with a copy of `arrival` for a message of its body size (when the actor makes
    /// `process` spans).
    fn new(cx: Context, arrival: Option<(&Delivery, usize)>) -> Self {
        let delivery =
            arrival.map(|(arrival, body_size)| arrival.for_message(&cx).body_size(body_size));
        Received::Context(cx, delivery)
    }

    /// The remote sender `sender` (`None`: no valid one), with a copy of `arrival` for a
    /// message of its body size: no context made on this thread when the actor makes
    /// `process` spans.
    fn remote(sender: Option<SpanContext>, arrival: Option<(&Delivery, usize)>) -> Self {
        match (sender, arrival) {
            (Some(sender), Some((arrival, body_size))) => {
                let delivery = arrival.for_remote(sender.clone()).body_size(body_size);
                Received::Remote(sender, delivery)
            }
            (sender, arrival) => {
                let cx = match sender {
                    Some(sender) => Context::new().with_remote_span_context(sender),
                    None => Context::new(),
                };
                Received::new(cx, arrival)
            }
        }
    }

    /// Runs `send` in the sender's context, with the delivery beside it (no context value
    /// is made for it; for a remote sender, no context at all).
    pub(crate) fn send_in<R>(&self, send: impl FnOnce() -> R) -> R {
        match self {
            Received::Context(cx, Some(delivery)) => delivery.send_in(cx, send),
            Received::Context(cx, None) => {
                let _cx = cx.clone().attach();
                send()
            }
            Received::Remote(_, delivery) => delivery.send_from(send),
        }
    }

    /// The context to send in from async code (a send that may wait): the delivery
    /// attached to it.
    pub(crate) fn into_context(self) -> Context {
        match self {
            Received::Context(cx, Some(delivery)) => delivery.attach(cx),
            Received::Context(cx, None) => cx,
            Received::Remote(sender, delivery) => {
                delivery.attach(Context::new().with_remote_span_context(sender))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::propagation::TextMapCompositePropagator;

    use super::*;

    /// The only test of this crate's library that sets the global propagator.
    #[test]
    fn the_built_in_w3c_propagator_is_known_wherever_it_is_in_effect() {
        let sdk = || {
            TextMapCompositePropagator::new(vec![Box::new(
                opentelemetry_sdk::propagation::TraceContextPropagator::new(),
            )])
        };
        let w3c_in_effect = |own: Option<&(dyn TextMapPropagator + Send + Sync)>| {
            propagator_in_effect(own, W3cPropagator::is)
        };
        // None installed: the fallback is W3C.
        assert!(w3c_in_effect(None));
        assert!(w3c_in_effect(Some(&W3cPropagator::new())));
        assert!(!w3c_in_effect(Some(&sdk())));
        opentelemetry::global::set_text_map_propagator(sdk());
        assert!(!w3c_in_effect(None));
        assert!(w3c_in_effect(Some(&W3cPropagator::new())));
        // As `Telemetry` installs it, by default.
        let telemetry = actor_otel::Telemetry::builder()
            .exporter(actor_otel::Exporter::noop())
            .build()
            .expect("a no-op pipeline");
        assert!(w3c_in_effect(None));
        telemetry.shutdown().expect("shut down");
    }
}
