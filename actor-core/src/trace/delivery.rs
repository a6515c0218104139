//! [`Delivery`]: how a message came in from outside the process (NATS, HTTP, a queue), so
//! the `process` span of its handler describes the transport rather than the mailbox.

use std::sync::Arc;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};

use crate::trace::record::{self, DeliveryParts};

/// How a message arrived from outside the process, for its `process <actor>` span: the
/// messaging system (`messaging.system`, e.g. `"nats"`), the destination it was sent to
/// (`messaging.destination.name`, e.g. the subject), the body size and any further
/// attributes (consumer group). A tell sent with it makes no local `send` span: the remote
/// caller's own `send` span is the `process` span's parent. A bridge such as `actor-nats`
/// sends each message it hands in with one:
///
/// - [`send_in`](Delivery::send_in) runs a send (`try_tell`, say) in the extracted context
///   with the delivery beside it: no context value is made for it (the envelope boxes
///   the delivery with the context, one allocation where a context value costs three);
/// - [`attach`](Delivery::attach) puts it into the context, for a send that is awaited
///   (`tell(msg).with_context(cx)`); the context's value costs allocations.
///
/// It applies only to a message sent in the context it was made for: it names the remote
/// parent's span id, so a handler's own sends (whose context holds the `process` span, not
/// that parent) are `actor-core` messages again.
///
/// A bridge that hands in many messages alike (a batch) makes one delivery and a copy of
/// it per message with [`for_message`](Delivery::for_message): the system, destination and
/// attributes are shared, not copied.
#[derive(Debug, Clone)]
pub struct Delivery {
    sender: Sender,
    message: Delivered,
}

/// Whose message a delivery is.
#[derive(Debug, Clone)]
enum Sender {
    /// The message sent in the context whose span has this id.
    Parent(SpanId),
    /// The message sent with [`Delivery::send_from`]: this remote sender's.
    Remote(SpanContext),
}

/// A delivery as an envelope carries it to the actor: the parent is the envelope's
/// context, so only what the `process` span needs.
#[derive(Debug, Clone)]
pub(crate) struct Delivered {
    destination: Option<Value>,
    parts: Arc<DeliveryParts>,
    body_size: Option<u32>,
}

impl Delivered {
    /// The messaging system and further attributes.
    pub(crate) fn parts(&self) -> &Arc<DeliveryParts> {
        &self.parts
    }

    /// The destination, when one was given.
    pub(crate) fn destination(&self) -> Option<&Value> {
        self.destination.as_ref()
    }

    /// The body size, when one was given.
    pub(crate) fn body_size(&self) -> Option<u32> {
        self.body_size
    }

    /// The destination, the shared parts and the body size, moved out (no reference count
    /// touched: the parts go on into the `process` record as they are).
    pub(crate) fn into_parts(self) -> (Option<Value>, Arc<DeliveryParts>, Option<u32>) {
        (self.destination, self.parts, self.body_size)
    }
}

scoped_tls::scoped_thread_local! {
    /// The delivery of [`Delivery::send_in`] while its send runs.
    static SENDING: Delivery
}

impl Delivery {
    /// A delivery by `system` of a message whose sender's context is `parent`.
    pub fn new(system: impl Into<Value>, parent: &Context) -> Self {
        Delivery {
            sender: Sender::Parent(parent.span().span_context().span_id()),
            message: Delivered {
                destination: None,
                parts: Arc::new(DeliveryParts {
                    system: system.into(),
                    attributes: Vec::new(),
                }),
                body_size: None,
            },
        }
    }

    /// The same delivery for another message, whose sender's context is `parent`: the
    /// system and attributes are shared (a reference count, not a copy); the body size is not
    /// kept.
    pub fn for_message(&self, parent: &Context) -> Self {
        Delivery {
            sender: Sender::Parent(parent.span().span_context().span_id()),
            message: Delivered {
                body_size: None,
                ..self.message.clone()
            },
        }
    }

    /// The same delivery for a message from the remote sender `parent` (the span context
    /// a propagator extracted from its headers), to send with
    /// [`send_from`](Delivery::send_from): no context is made for the sender on the
    /// sending thread (the actor's thread makes it). As with
    /// [`for_message`](Delivery::for_message), the system, destination and attributes are
    /// shared and the body size is not kept.
    pub fn for_remote(&self, parent: SpanContext) -> Self {
        Delivery {
            sender: Sender::Remote(parent),
            message: Delivered {
                body_size: None,
                ..self.message.clone()
            },
        }
    }

    /// The destination the sender addressed (`messaging.destination.name`; by default the
    /// actor's name).
    pub fn destination(mut self, name: impl Into<Value>) -> Self {
        self.message.destination = Some(name.into());
        self
    }

    /// The message body's size in bytes (`messaging.message.body.size`; past `u32::MAX`
    /// it says `u32::MAX`).
    pub fn body_size(mut self, bytes: usize) -> Self {
        self.message.body_size = Some(record::body_size_of(bytes));
        self
    }

    /// One more attribute for the `process` span.
    pub fn attribute(self, kv: KeyValue) -> Self {
        self.with_attributes([kv])
    }

    /// More attributes for the `process` span, at once.
    pub fn with_attributes(mut self, kvs: impl IntoIterator<Item = KeyValue>) -> Self {
        Arc::make_mut(&mut self.message.parts)
            .attributes
            .extend(kvs);
        self
    }

    /// `parent` with this delivery attached: send the message with the returned context.
    pub fn attach(self, parent: Context) -> Context {
        parent.with_value(self)
    }

    /// Runs `send` with `parent` as the current context and this delivery beside it: a
    /// message `send` sends in `parent` (a `try_tell`, say) carries the delivery, as with
    /// [`attach`](Delivery::attach), without a context made for it or a copy of the
    /// delivery kept.
    pub fn send_in<R>(&self, parent: &Context, send: impl FnOnce() -> R) -> R {
        let _cx = parent.clone().attach();
        SENDING.set(self, send)
    }

    /// Runs `send` with this delivery beside it, the message it sends (a `try_tell`, say)
    /// coming from the remote sender of [`for_remote`](Delivery::for_remote) as if sent in
    /// a context that holds that sender alone: `send_in` without a context made on this
    /// thread. A delivery made otherwise applies as with [`send_in`](Delivery::send_in)
    /// in the current context.
    pub fn send_from<R>(&self, send: impl FnOnce() -> R) -> R {
        SENDING.set(self, send)
    }

    /// The remote sender of a message sent now under [`send_from`](Delivery::send_from),
    /// if one is being sent so (its delivery not copied).
    pub(crate) fn remote_sender() -> Option<SpanContext> {
        Self::from_remote(|sender, _| sender.clone())
    }

    /// The remote sender and the delivery of a message sent now under
    /// [`send_from`](Delivery::send_from), if one is being sent so.
    pub(crate) fn sending_from() -> Option<(SpanContext, Delivered)> {
        Self::from_remote(|sender, delivered| (sender.clone(), delivered.clone()))
    }

    /// `read` of the remote sender and delivery of [`send_from`](Delivery::send_from), if
    /// one is running with a delivery made by [`for_remote`](Delivery::for_remote).
    fn from_remote<T>(read: impl FnOnce(&SpanContext, &Delivered) -> T) -> Option<T> {
        if !SENDING.is_set() {
            return None;
        }
        SENDING.with(|d| match &d.sender {
            Sender::Remote(sender) => Some(read(sender, &d.message)),
            Sender::Parent(_) => None,
        })
    }

    /// The messaging system.
    #[cfg(test)]
    fn system(&self) -> &Value {
        &self.message.parts.system
    }

    /// The delivery of a message sent now in the context `cx`, if it has one: the one of
    /// [`send_in`](Delivery::send_in), else the one attached to `cx` (not one inherited
    /// from a handler's context further up).
    pub(crate) fn current(cx: &Context) -> Option<Delivered> {
        let parent = cx.span().span_context().span_id();
        // A remote sender's delivery attached to a context applies as one made for it.
        let of = |d: &Delivery| {
            let made_for = match &d.sender {
                Sender::Parent(id) => *id,
                Sender::Remote(sender) => sender.span_id(),
            };
            (made_for == parent).then(|| d.message.clone())
        };
        let beside = if SENDING.is_set() {
            SENDING.with(of)
        } else {
            None
        };
        beside.or_else(|| cx.get::<Delivery>().and_then(of))
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
            Arc::ptr_eq(&batch.message.parts, &copy.message.parts),
            "no copy of the parts"
        );
        assert_eq!(
            copy.message.body_size, None,
            "a body size is the message's own"
        );
        assert_eq!(batch.system().as_str(), "nats");

        // Each applies only to the context it was made for.
        let attached = copy.clone().body_size(20).attach(second.clone());
        let found = Delivery::current(&attached).expect("made for this context");
        assert_eq!(found.body_size(), Some(20));
        let destination = found.destination().map(|v| v.as_str().into_owned());
        assert_eq!(destination.as_deref(), Some("orders"));
        assert!(Delivery::current(&first.with_value(copy.clone())).is_none());

        // Beside the context, for the sends made in it only.
        let (here, elsewhere) = copy.body_size(30).send_in(&second, || {
            let now = Context::current();
            (Delivery::current(&now), Delivery::current(&remote(3)))
        });
        assert_eq!(here.and_then(|d| d.body_size()), Some(30));
        assert!(elsewhere.is_none(), "another parent");
        assert!(Delivery::current(&second).is_none(), "gone after the send");

        // From a remote sender alone: found under `send_from` whatever the current context;
        // attached to a context, only in the one holding that sender.
        let sender = remote(4).span().span_context().clone();
        let from = batch.for_remote(sender.clone()).body_size(40);
        let found = from.send_from(|| Delivery::sending_from().map(|(s, d)| (s, d.body_size())));
        assert_eq!(found, Some((sender, Some(40))));
        assert!(Delivery::sending_from().is_none(), "gone after the send");
        assert!(Delivery::current(&from.clone().attach(remote(4))).is_some());
        assert!(Delivery::current(&remote(5).with_value(from)).is_none());
    }

    #[test]
    fn a_body_size_past_u32_says_u32_max() {
        let d = Delivery::new("x", &Context::new()).body_size(usize::MAX);
        assert_eq!(d.message.body_size, Some(u32::MAX));
    }
}
