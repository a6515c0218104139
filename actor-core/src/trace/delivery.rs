//! [`Delivery`]: how a message came in from outside the process (NATS, HTTP, a queue), so
//! the `process` span of its handler describes the transport rather than the mailbox.

use opentelemetry::trace::{SpanId, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};

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
#[derive(Debug, Clone)]
pub struct Delivery {
    parent: SpanId,
    system: Value,
    destination: Option<Value>,
    attributes: Vec<KeyValue>,
}

impl Delivery {
    /// A delivery by `system` of a message whose sender's context is `parent`.
    pub fn new(system: impl Into<Value>, parent: &Context) -> Self {
        Delivery {
            parent: parent.span().span_context().span_id(),
            system: system.into(),
            destination: None,
            attributes: Vec::new(),
        }
    }

    /// The destination the sender addressed (`messaging.destination.name`; by default the
    /// actor's name).
    pub fn destination(mut self, name: impl Into<Value>) -> Self {
        self.destination = Some(name.into());
        self
    }

    /// One more attribute for the `process` span.
    pub fn attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    /// More attributes for the `process` span, at once (a bridge that makes a delivery per
    /// message: one allocation, not one per attribute).
    pub fn with_attributes(mut self, kvs: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(kvs);
        self
    }

    /// `parent` with this delivery attached: send the message with the returned context.
    pub fn attach(self, parent: Context) -> Context {
        parent.with_value(self)
    }

    /// The messaging system.
    pub(crate) fn system(&self) -> &Value {
        &self.system
    }

    /// The destination, when one was given.
    pub(crate) fn destination_name(&self) -> Option<&Value> {
        self.destination.as_ref()
    }

    /// The further attributes.
    pub(crate) fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// The delivery made for the context `cx`, if any (not one inherited from a handler's
    /// context further up).
    pub(crate) fn of(cx: &Context) -> Option<&Delivery> {
        cx.get::<Delivery>()
            .filter(|d| d.parent == cx.span().span_context().span_id())
    }
}
