//! The receive side: the sender's context restored, and the CONSUMER `process <actor>`
//! span around each handler.

use std::borrow::Cow;
use std::rc::Rc;

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{Link, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::reply::ReplyError;
use crate::trace::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, MAILBOX_WAIT_NS, MESSAGE_TYPE,
    MESSAGING_DESTINATION_NAME, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE, THREAD_ID, THREAD_NAME,
};
use crate::trace::carrier::{extract, extract_with};
use crate::trace::meta::{TraceCarrier, TraceMeta};
use crate::trace::options::{Propagation, Relation, Relations};
use crate::trace::send::push_message_id;

/// The sender's context, restored on the receive side.
pub(crate) fn restore(propagation: &Propagation, carrier: TraceCarrier) -> Context {
    match carrier {
        TraceCarrier::Context(cx) => cx,
        TraceCarrier::Headers(headers) => match propagation {
            Propagation::Carrier(p) => extract_with(p.as_ref(), &*headers, &Default::default()),
            Propagation::InProcess => extract(&*headers),
        },
    }
}

/// The receive side's span maker, one per actor thread.
pub(crate) struct ProcessSpans {
    pub(crate) tracer: Rc<BoxedTracer>,
    /// The actor's name as an attribute value.
    pub(crate) name: opentelemetry::Value,
    pub(crate) span_name: Cow<'static, str>,
    pub(crate) thread_id: i64,
    pub(crate) relations: Relations,
}

/// How one handler call ended, for its span.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) error: Option<ReplyError>,
    pub(crate) panic: Option<String>,
}

impl ProcessSpans {
    /// Starts the `process` span for a message and returns the context the handler runs in.
    pub(crate) fn start(
        &self,
        parent: Context,
        meta: &TraceMeta,
        message_type: &'static str,
    ) -> Context {
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
            KeyValue::new(MESSAGING_SYSTEM, MESSAGING_SYSTEM_VALUE),
            KeyValue::new(MESSAGING_DESTINATION_NAME, self.name.clone()),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(MESSAGE_TYPE, message_type),
            KeyValue::new(MAILBOX_WAIT_NS, wait_ns),
            // The actor's thread is named after the actor.
            KeyValue::new(THREAD_NAME, self.name.clone()),
            KeyValue::new(THREAD_ID, self.thread_id),
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
    pub(crate) fn end(cx: &Context, outcome: &Outcome) {
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
