//! [`Delivery`]: how a message came in from outside the process (NATS, HTTP, a queue), so
//! the `process` span of its handler describes the transport rather than the mailbox.

use std::sync::Arc;

use opentelemetry::trace::{SpanId, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};

use crate::trace::record::DeliveryParts;

/// How a message arrived from outside the process, for its `process <actor>` span: the
/// messaging system (`messaging.system`, e.g. `"nats"`), the destination it was sent to
/// (`messaging.destination.name`, e.g. the subject) and any further attributes (body size,
/// consumer group). Attach it to the context extracted from the message and send with that
/// context ([`attach`](Delivery::attach)); a bridge such as `actor-nats` does it. A tell
/// sent with it makes no local `send` span: the remote caller's own `send` span is the
/// `process` span's parent.
///
/// It applies only to the message sent with the context it was made for: it names the
/// remote parent's span id, so a handler's own sends (whose context holds the `process`
/// span, not that parent) are `actor-core` messages again.
///
/// A bridge that hands in many messages alike (a batch) makes one delivery and a copy of
/// it per message with [`for_message`](Delivery::for_message): the system, destination and
/// attributes are shared, not copied.
#[derive(Debug, Clone)]
pub struct Delivery {
    parent: SpanId,
    body_size: Option<u32>,
    destination: Option<Value>,
    parts: Arc<DeliveryParts>,
}

impl Delivery {
    /// A delivery by `system` of a message whose sender's context is `parent`.
    pub fn new(system: impl Into<Value>, parent: &Context) -> Self {
        Delivery {
            parent: parent.span().span_context().span_id(),
            body_size: None,
            destination: None,
            parts: Arc::new(DeliveryParts {
                system: system.into(),
                attributes: Vec::new(),
            }),
        }
    }

    /// The same delivery for another message, whose sender's context is `parent`: the
    /// system, destination and attributes are shared (no allocation); the body size is
    /// not kept.
    pub fn for_message(&self, parent: &Context) -> Self {
        Delivery {
            parent: parent.span().span_context().span_id(),
            body_size: None,
            destination: self.destination.clone(),
            parts: self.parts.clone(),
        }
    }

    /// The destination the sender addressed (`messaging.destination.name`; by default the
    /// actor's name).
    pub fn destination(mut self, name: impl Into<Value>) -> Self {
        self.destination = Some(name.into());
        self
    }

    /// The message body's size in bytes (`messaging.message.body.size`; past `u32::MAX`
    /// it says `u32::MAX`).
    pub fn body_size(mut self, bytes: usize) -> Self {
        self.body_size = Some(u32::try_from(bytes).unwrap_or(u32::MAX));
        self
    }

    /// One more attribute for the `process` span.
    pub fn attribute(mut self, kv: KeyValue) -> Self {
        Arc::make_mut(&mut self.parts).attributes.push(kv);
        self
    }

    /// More attributes for the `process` span, at once.
    pub fn with_attributes(mut self, kvs: impl IntoIterator<Item = KeyValue>) -> Self {
        Arc::make_mut(&mut self.parts).attributes.extend(kvs);
        self
    }

    /// `parent` with this delivery attached: send the message with the returned context.
    pub fn attach(self, parent: Context) -> Context {
        parent.with_value(self)
    }

    /// The messaging system.
    pub(crate) fn system(&self) -> &Value {
        &self.parts.system
    }

    /// The destination, when one was given.
    pub(crate) fn destination_name(&self) -> Option<&Value> {
        self.destination.as_ref()
    }

    /// The system and further attributes, shared.
    pub(crate) fn parts(&self) -> &Arc<DeliveryParts> {
        &self.parts
    }

    /// The body size, when one was given.
    pub(crate) fn message_body_size(&self) -> Option<u32> {
        self.body_size
    }

    /// The delivery made for the context `cx`, if any (not one inherited from a handler's
    /// context further up).
    pub(crate) fn of(cx: &Context) -> Option<&Delivery> {
        cx.get::<Delivery>()
            .filter(|d| d.parent == cx.span().span_context().span_id())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Context, KeyValue};

    use super::Delivery;

    fn remote(span: u64) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ))
    }

    #[test]
    fn a_copy_for_another_message_shares_the_parts_and_names_its_own_parent() {
        let first = remote(1);
        let batch = Delivery::new("nats", &first)
            .destination("orders")
            .attribute(KeyValue::new("k", 1))
            .body_size(10);
        let second = remote(2);
        let copy = batch.for_message(&second);
        assert!(
            Arc::ptr_eq(batch.parts(), copy.parts()),
            "no copy of the parts"
        );
        assert_eq!(copy.destination_name(), batch.destination_name());
        assert_eq!(
            copy.message_body_size(),
            None,
            "a body size is the message's own"
        );

        // Each applies only to the context it was made for.
        let attached = copy.body_size(20).attach(second);
        let found = Delivery::of(&attached).expect("made for this context");
        assert_eq!(found.message_body_size(), Some(20));
        assert!(Delivery::of(&first.with_value(found.clone())).is_none());
    }

    #[test]
    fn a_body_size_past_u32_says_u32_max() {
        let d = Delivery::new("x", &Context::new()).body_size(usize::MAX);
        assert_eq!(d.message_body_size(), Some(u32::MAX));
    }
}
