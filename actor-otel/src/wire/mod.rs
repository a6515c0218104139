//! OTLP protobuf written straight from span records: the framework's own `send` and
//! `process` spans encoded as an `ExportTraceServiceRequest` without building an SDK
//! `SpanData` and then a generated `Span` message for each (the SDK path allocates a string
//! per attribute key and value, a vector per id, and frees them all again).
//!
//! [`TraceRequest`] writes the wire format of the OTLP trace protocol (`opentelemetry/proto/
//! trace/v1/trace.proto`, stable since 1.0) field by field, through a cursor over room kept
//! ready in its buffer (`cursor.rs`; tests check its fields against `prost`'s encoders); the
//! resource and the scope, written once per request, go through `opentelemetry-proto`'s
//! generated types.
//! Tests decode its output with those types and compare it, message by message, with what
//! the SDK path (`SpanData`, `opentelemetry-proto`'s transform) makes of the same records.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry::trace::{SpanId, TraceFlags, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use prost::encoding::encoded_len_varint;
use prost::Message as _;

use actor_core::trace::attribute::{
    MAILBOX_WAIT_NS, MESSAGE_TYPE, MESSAGING_DESTINATION_NAME, MESSAGING_MESSAGE_BODY_SIZE,
    MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
    MESSAGING_SYSTEM_VALUE, THREAD_ID, THREAD_NAME,
};
use actor_core::trace::{DeliveryParts, Operation, SenderLink, SpanRecord};

use cursor::{append, append_in_room, encoded, field_len, string_field_len, Cursor, Written};

mod cursor;

/// Field numbers of the OTLP trace messages this module writes.
mod field {
    pub(super) const REQUEST_RESOURCE_SPANS: u32 = 1;
    pub(super) const RESOURCE_SPANS_RESOURCE: u32 = 1;
    pub(super) const RESOURCE_SPANS_SCOPE_SPANS: u32 = 2;
    pub(super) const RESOURCE_SPANS_SCHEMA_URL: u32 = 3;
    pub(super) const SCOPE_SPANS_SCOPE: u32 = 1;
    pub(super) const SCOPE_SPANS_SPANS: u32 = 2;
    pub(super) const SCOPE_SPANS_SCHEMA_URL: u32 = 3;

    pub(super) const SPAN_TRACE_ID: u32 = 1;
    pub(super) const SPAN_SPAN_ID: u32 = 2;
    pub(super) const SPAN_TRACE_STATE: u32 = 3;
    pub(super) const SPAN_PARENT_SPAN_ID: u32 = 4;
    pub(super) const SPAN_NAME: u32 = 5;
    pub(super) const SPAN_KIND: u32 = 6;
    pub(super) const SPAN_START: u32 = 7;
    pub(super) const SPAN_END: u32 = 8;
    pub(super) const SPAN_ATTRIBUTES: u32 = 9;
    pub(super) const SPAN_EVENTS: u32 = 11;
    pub(super) const SPAN_LINKS: u32 = 13;
    pub(super) const SPAN_STATUS: u32 = 15;
    pub(super) const SPAN_FLAGS: u32 = 16;

    pub(super) const EVENT_TIME: u32 = 1;
    pub(super) const EVENT_NAME: u32 = 2;
    pub(super) const EVENT_ATTRIBUTES: u32 = 3;
    pub(super) const EVENT_DROPPED_ATTRIBUTES: u32 = 4;

    pub(super) const LINK_TRACE_ID: u32 = 1;
    pub(super) const LINK_SPAN_ID: u32 = 2;
    pub(super) const LINK_TRACE_STATE: u32 = 3;
    pub(super) const LINK_ATTRIBUTES: u32 = 4;
    pub(super) const LINK_DROPPED_ATTRIBUTES: u32 = 5;
    pub(super) const LINK_FLAGS: u32 = 6;

    pub(super) const STATUS_MESSAGE: u32 = 2;
    pub(super) const STATUS_CODE: u32 = 3;

    pub(super) const KEY_VALUE_KEY: u32 = 1;
    pub(super) const KEY_VALUE_VALUE: u32 = 2;
    pub(super) const ANY_STRING: u32 = 1;
    pub(super) const ANY_BOOL: u32 = 2;
    pub(super) const ANY_INT: u32 = 3;
    pub(super) const ANY_DOUBLE: u32 = 4;
    pub(super) const ANY_ARRAY: u32 = 5;
    pub(super) const ARRAY_VALUES: u32 = 1;
}

/// `SpanFlags`: the context-has-is-remote bit, and the is-remote bit.
const FLAGS_HAS_IS_REMOTE: u32 = 0x100;
const FLAGS_IS_REMOTE: u32 = 0x200;
/// `Span.SpanKind` values.
const KIND_PRODUCER: u64 = 4;
const KIND_CONSUMER: u64 = 5;
/// `Status.StatusCode` values.
const STATUS_OK: u64 = 1;
const STATUS_ERROR: u64 = 2;
/// The bytes kept for a span's length: two hold up to 16 KiB, more than a span of the
/// usual shapes takes (about 300 bytes).
const SPAN_LEN_BYTES: usize = 2;
/// The room made ready for spans at a time: zeroed just ahead of the spans written into it,
/// while it is in the cache.
const SPANS_STEP: usize = 16 * 1024;

/// One OTLP `ExportTraceServiceRequest` (one resource, one scope) built from span records.
/// Reusable: [`finish`](TraceRequest::finish) writes the request and empties it, keeping
/// its buffers, so a steady stream of batches allocates nothing per span;
/// [`encode_batch`](TraceRequest::encode_batch) hands its buffer over as the request, with
/// the head written into room kept before the spans (no copy of the spans).
#[derive(Debug)]
pub struct TraceRequest {
    /// The encoded `Resource` message and the resource's schema URL.
    resource: Vec<u8>,
    schema_url: String,
    /// The encoded `InstrumentationScope` message and the scope's schema URL.
    scope: Vec<u8>,
    scope_schema_url: String,
    /// The spans so far, each as a `ScopeSpans.spans` field, after `room` bytes kept for
    /// the request's head; they end at `end`, and room kept for more follows.
    spans: Vec<u8>,
    room: usize,
    end: usize,
    count: usize,
    /// Attribute runs already encoded.
    repeats: Repeats,
}

impl TraceRequest {
    /// A request for spans of `resource`, under `scope`.
    pub fn new(resource: &Resource, scope: &InstrumentationScope) -> Self {
        let scope_message: ProtoScope = (scope, None).into();
        let mut request = TraceRequest {
            resource: Vec::new(),
            schema_url: String::new(),
            scope: scope_message.encode_to_vec(),
            scope_schema_url: scope.schema_url().unwrap_or_default().to_owned(),
            spans: Vec::new(),
            room: 0,
            end: 0,
            count: 0,
            repeats: Repeats::default(),
        };
        request.set_resource(resource);
        request
    }

    /// The resource of the spans pushed from now on (the request keeps its buffers).
    /// Spans already pushed are written under the new resource too: finish them first.
    pub fn set_resource(&mut self, resource: &Resource) {
        let attributes = ResourceAttributesWithSchema::from(resource);
        let resource_message = ProtoResource {
            attributes: attributes.attributes.0,
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        };
        self.resource = resource_message.encode_to_vec();
        self.schema_url = attributes.schema_url.unwrap_or_default();
    }

    /// How many spans the request holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the request holds no span.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds the span `record` stands for, as the SDK would have exported it (sampled, not
    /// remote; its parent's remoteness in the flags).
    pub fn push(&mut self, record: &SpanRecord) {
        if self.count == 0 {
            // The most the head can take: four one-byte keys, four lengths, the resource
            // and the scope.
            self.room = 4 * (1 + 10) + self.resource.len() + self.scope.len();
            self.end = self.room;
        }
        let repeats = &mut self.repeats;
        append_in_room(&mut self.spans, &mut self.end, SPANS_STEP, |out| {
            out.message(field::SCOPE_SPANS_SPANS, SPAN_LEN_BYTES, |out| {
                write_span(out, repeats, record)
            })
        });
        self.count += 1;
    }

    /// Appends the encoded request to `out` and empties this one (empty requests write
    /// nothing).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.count == 0 {
            return;
        }
        append(out, |out| self.write_head(out));
        out.extend_from_slice(&self.spans[self.room..self.end]);
        append(out, |out| self.write_tail(out));
        self.count = 0;
    }

    /// `records` as one encoded request (empty for none), leaving the vector empty to be
    /// filled again: [`push`](TraceRequest::push) each, then
    /// [`finish_bytes`](TraceRequest::finish_bytes).
    pub fn encode_batch(&mut self, records: &mut Vec<SpanRecord>) -> Bytes {
        for record in records.iter() {
            self.push(record);
        }
        records.clear();
        self.finish_bytes()
    }

    /// The encoded request (empty for none), emptying this one: its buffer is handed over
    /// with the head written into the room kept before the spans, so the spans are not
    /// copied again.
    pub fn finish_bytes(&mut self) -> Bytes {
        if self.count == 0 {
            return Bytes::new();
        }
        let head = encoded(|out| self.write_head(out));
        let Some(start) = self.room.checked_sub(head.len()) else {
            // A resource larger than the room kept at the first span: copied after all.
            let mut body = Vec::new();
            self.finish(&mut body);
            return Bytes::from(body);
        };
        self.spans[start..self.room].copy_from_slice(&head);
        self.spans.truncate(self.end);
        let capacity = self.spans.capacity();
        let mut body = std::mem::replace(&mut self.spans, Vec::with_capacity(capacity));
        append(&mut body, |out| self.write_tail(out));
        self.count = 0;
        Bytes::from(body).slice(start..)
    }

    /// What comes before the spans: the `ResourceSpans` and `ScopeSpans` headers, the
    /// resource and the scope.
    fn write_head(&self, out: &mut Cursor<'_>) -> Written {
        let scope_spans_len = field_len(field::SCOPE_SPANS_SCOPE, self.scope.len())
            + (self.end - self.room)
            + string_field_len(field::SCOPE_SPANS_SCHEMA_URL, &self.scope_schema_url);
        let resource_spans_len = field_len(field::RESOURCE_SPANS_RESOURCE, self.resource.len())
            + field_len(field::RESOURCE_SPANS_SCOPE_SPANS, scope_spans_len)
            + string_field_len(field::RESOURCE_SPANS_SCHEMA_URL, &self.schema_url);
        out.header(field::REQUEST_RESOURCE_SPANS, resource_spans_len)?;
        out.bytes(field::RESOURCE_SPANS_RESOURCE, &self.resource)?;
        out.header(field::RESOURCE_SPANS_SCOPE_SPANS, scope_spans_len)?;
        out.bytes(field::SCOPE_SPANS_SCOPE, &self.scope)
    }

    /// What comes after the spans: the scope's and the resource's schema URLs.
    fn write_tail(&self, out: &mut Cursor<'_>) -> Written {
        out.string(field::SCOPE_SPANS_SCHEMA_URL, &self.scope_schema_url)?;
        out.string(field::RESOURCE_SPANS_SCHEMA_URL, &self.schema_url)
    }
}

/// The `Span` message of `record` into `out`.
fn write_span(out: &mut Cursor<'_>, repeats: &mut Repeats, record: &SpanRecord) -> Written {
    let sc = &record.span_context;
    out.array(field::SPAN_TRACE_ID, sc.trace_id().to_bytes())?;
    out.array(field::SPAN_SPAN_ID, sc.span_id().to_bytes())?;
    write_trace_state(out, field::SPAN_TRACE_STATE, sc.trace_state())?;
    if record.parent_span_id != SpanId::INVALID {
        out.array(field::SPAN_PARENT_SPAN_ID, record.parent_span_id.to_bytes())?;
    }
    out.string(field::SPAN_NAME, &record.name)?;
    let kind = match record.operation {
        Operation::Process => KIND_CONSUMER,
        _ => KIND_PRODUCER,
    };
    out.varint(field::SPAN_KIND, kind)?;
    out.fixed64(field::SPAN_START, record.start.unix_nanos())?;
    out.fixed64(field::SPAN_END, record.end.unix_nanos())?;
    write_attributes(out, repeats, record)?;
    if let Some(extras) = &record.extras {
        for event in &extras.events {
            out.message(field::SPAN_EVENTS, 1, |out| {
                let time = actor_core::trace::Timestamp::from_system_time(event.timestamp);
                out.fixed64(field::EVENT_TIME, time.unix_nanos())?;
                out.string(field::EVENT_NAME, &event.name)?;
                for kv in &event.attributes {
                    write_key_value(out, field::EVENT_ATTRIBUTES, kv.key.as_str(), &kv.value)?;
                }
                out.varint(
                    field::EVENT_DROPPED_ATTRIBUTES,
                    u64::from(event.dropped_attributes_count),
                )
            })?;
        }
    }
    write_links(out, record)?;
    if let Some(extras) = &record.extras {
        let (code, message) = match &extras.status {
            opentelemetry::trace::Status::Unset => (0, ""),
            opentelemetry::trace::Status::Ok => (STATUS_OK, ""),
            opentelemetry::trace::Status::Error { description } => {
                (STATUS_ERROR, description.as_ref())
            }
        };
        out.message(field::SPAN_STATUS, 1, |out| {
            out.string(field::STATUS_MESSAGE, message)?;
            out.varint(field::STATUS_CODE, code)
        })?;
    } else {
        // An unset status is an empty message, present (as the SDK path writes it).
        out.bytes(field::SPAN_STATUS, &[])?;
    }
    let flags = u32::from((sc.trace_flags() | TraceFlags::SAMPLED).to_u8());
    out.fixed32(
        field::SPAN_FLAGS,
        remote_flags(flags, record.parent_is_remote),
    )
}

/// The record's attributes, in the order `SpanRecord::attributes` lists them. The runs that
/// repeat from span to span (the five fixed attributes, the thread pair, a bridge's
/// attributes) come encoded from `repeats`.
fn write_attributes(out: &mut Cursor<'_>, repeats: &mut Repeats, record: &SpanRecord) -> Written {
    out.raw(repeats.fixed(record))?;
    let mut thread = |out: &mut Cursor<'_>| match &record.thread {
        Some((name, id)) => out.raw(repeats.thread(name, *id)),
        None => Ok(()),
    };
    let message_id = |out: &mut Cursor<'_>| {
        if record.message_id == 0 {
            return Ok(());
        }
        let id = AttributeValue::U64Text(record.message_id);
        write_attribute(out, MESSAGING_MESSAGE_ID, id)
    };
    match record.mailbox_wait_ns {
        Some(wait) => {
            write_attribute(out, MAILBOX_WAIT_NS, AttributeValue::I64(wait))?;
            thread(out)?;
            message_id(out)?;
        }
        None => {
            message_id(out)?;
            thread(out)?;
        }
    }
    if let Some(size) = record.body_size {
        let size = AttributeValue::I64(i64::from(size));
        write_attribute(out, MESSAGING_MESSAGE_BODY_SIZE, size)?;
    }
    if let Some(delivery) = &record.delivery {
        if !delivery.attributes.is_empty() {
            out.raw(repeats.delivered(delivery))?;
        }
    }
    for kv in record.extras.iter().flat_map(|e| &e.attributes) {
        write_attribute(out, kv.key.as_str(), AttributeValue::Value(&kv.value))?;
    }
    Ok(())
}

/// One attribute as a `Span.attributes` field.
#[inline]
fn write_attribute(out: &mut Cursor<'_>, key: &str, value: AttributeValue<'_>) -> Written {
    out.message(field::SPAN_ATTRIBUTES, 1, |out| {
        out.string(field::KEY_VALUE_KEY, key)?;
        value.write(out)
    })
}

/// Attribute runs that repeat from span to span, encoded once and copied: the five fixed
/// attributes of a system, destination, operation and message type; the `thread.name`,
/// `thread.id` pair of a thread; a bridge's attributes, shared by the records of a batch or
/// a destination. A batch holds few of each (one actor's spans, or the senders' to a few
/// actors); past [`Repeats::MAX`] entries a kind starts over.
#[derive(Debug, Default)]
struct Repeats {
    fixed: Vec<(FixedKey, Vec<u8>)>,
    threads: Vec<((Value, i64), Vec<u8>)>,
    /// Keyed by the shared parts themselves: held, so no other parts can take their address.
    delivered: Vec<(Arc<DeliveryParts>, Vec<u8>)>,
}

/// What the five fixed attributes of a record depend on.
#[derive(Debug)]
struct FixedKey {
    /// A bridge's `messaging.system` (`None`: this crate's own).
    system: Option<Value>,
    destination: Value,
    operation: Operation,
    message_type: &'static str,
}

impl FixedKey {
    fn matches(&self, record: &SpanRecord) -> bool {
        self.operation == record.operation
            && (std::ptr::eq(self.message_type, record.message_type)
                || self.message_type == record.message_type)
            && same_value(&self.destination, &record.destination)
            && match (&self.system, &record.delivery) {
                (Some(system), Some(delivery)) => same_value(system, &delivery.system),
                (None, None) => true,
                _ => false,
            }
    }
}

/// Whether two values are equal, found without comparing the text of a string shared by
/// both (the interned names and destinations that records share).
#[inline]
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.as_str(), b.as_str());
            std::ptr::eq(a, b) || a == b
        }
        _ => a == b,
    }
}

impl Repeats {
    /// Entries kept of each kind.
    const MAX: usize = 64;

    /// The encoded fixed attributes of `record`.
    fn fixed(&mut self, record: &SpanRecord) -> &[u8] {
        cached(
            &mut self.fixed,
            |key| key.matches(record),
            || {
                let system = match &record.delivery {
                    Some(d) => AttributeValue::Value(&d.system),
                    None => AttributeValue::Str(MESSAGING_SYSTEM_VALUE),
                };
                let operation = record.operation;
                let bytes = encoded(|out| {
                    write_attribute(out, MESSAGING_SYSTEM, system)?;
                    let destination = AttributeValue::Value(&record.destination);
                    write_attribute(out, MESSAGING_DESTINATION_NAME, destination)?;
                    let kind = AttributeValue::Str(operation.operation_type());
                    write_attribute(out, MESSAGING_OPERATION_TYPE, kind)?;
                    let name = AttributeValue::Str(operation.operation_name());
                    write_attribute(out, MESSAGING_OPERATION_NAME, name)?;
                    let message_type = AttributeValue::Str(record.message_type);
                    write_attribute(out, MESSAGE_TYPE, message_type)
                });
                let key = FixedKey {
                    system: record.delivery.as_ref().map(|d| d.system.clone()),
                    destination: record.destination.clone(),
                    operation,
                    message_type: record.message_type,
                };
                (key, bytes)
            },
        )
    }

    /// The encoded attributes of a bridge's `delivery`.
    fn delivered(&mut self, delivery: &Arc<DeliveryParts>) -> &[u8] {
        cached(
            &mut self.delivered,
            |parts| Arc::ptr_eq(parts, delivery),
            || {
                let bytes = encoded(|out| {
                    for kv in &delivery.attributes {
                        let value = AttributeValue::Value(&kv.value);
                        write_attribute(out, kv.key.as_str(), value)?;
                    }
                    Ok(())
                });
                (delivery.clone(), bytes)
            },
        )
    }

    /// The encoded `thread.name`, `thread.id` pair.
    fn thread(&mut self, name: &Value, id: i64) -> &[u8] {
        cached(
            &mut self.threads,
            |(n, i)| *i == id && same_value(n, name),
            || {
                let bytes = encoded(|out| {
                    write_attribute(out, THREAD_NAME, AttributeValue::Value(name))?;
                    write_attribute(out, THREAD_ID, AttributeValue::I64(id))
                });
                ((name.clone(), id), bytes)
            },
        )
    }
}

/// The bytes kept in `entries` under the first key that `matches`, else those `make`
/// gives, kept from now on; at most [`Repeats::MAX`] entries (all dropped when full).
fn cached<K>(
    entries: &mut Vec<(K, Vec<u8>)>,
    matches: impl Fn(&K) -> bool,
    make: impl FnOnce() -> (K, Vec<u8>),
) -> &[u8] {
    let index = match entries.iter().position(|(key, _)| matches(key)) {
        Some(index) => index,
        None => {
            if entries.len() == Repeats::MAX {
                entries.clear();
            }
            entries.push(make());
            entries.len() - 1
        }
    };
    &entries[index].1
}

/// The record's links: the sender's first, then those added while it was open.
fn write_links(out: &mut Cursor<'_>, record: &SpanRecord) -> Written {
    let sc = &record.span_context;
    match &record.link {
        SenderLink::Parent(flags) => out.message(field::SPAN_LINKS, 1, |out| {
            out.array(field::LINK_TRACE_ID, sc.trace_id().to_bytes())?;
            out.array(field::LINK_SPAN_ID, record.parent_span_id.to_bytes())?;
            write_trace_state(out, field::LINK_TRACE_STATE, sc.trace_state())?;
            let flags = remote_flags(u32::from(flags.to_u8()), record.parent_is_remote);
            out.fixed32(field::LINK_FLAGS, flags)
        })?,
        SenderLink::Other(other) => write_link(out, other, &[], 0)?,
        _ => {}
    }
    if let Some(extras) = &record.extras {
        for link in &extras.links {
            write_link(
                out,
                &link.span_context,
                &link.attributes,
                link.dropped_attributes_count,
            )?;
        }
    }
    Ok(())
}

fn write_link(
    out: &mut Cursor<'_>,
    sc: &opentelemetry::trace::SpanContext,
    attributes: &[KeyValue],
    dropped: u32,
) -> Written {
    out.message(field::SPAN_LINKS, 1, |out| {
        out.array(field::LINK_TRACE_ID, sc.trace_id().to_bytes())?;
        out.array(field::LINK_SPAN_ID, sc.span_id().to_bytes())?;
        write_trace_state(out, field::LINK_TRACE_STATE, sc.trace_state())?;
        for kv in attributes {
            write_key_value(out, field::LINK_ATTRIBUTES, kv.key.as_str(), &kv.value)?;
        }
        out.varint(field::LINK_DROPPED_ATTRIBUTES, u64::from(dropped))?;
        let flags = remote_flags(u32::from(sc.trace_flags().to_u8()), sc.is_remote());
        out.fixed32(field::LINK_FLAGS, flags)
    })
}

/// A `KeyValue` message in field `tag` (of an event or a link: rare, users' additions).
fn write_key_value(out: &mut Cursor<'_>, tag: u32, key: &str, value: &Value) -> Written {
    out.message(tag, 1, |out| {
        out.string(field::KEY_VALUE_KEY, key)?;
        write_value(out, field::KEY_VALUE_VALUE, value)
    })
}

/// Span or link flags: the trace flags and whether the parent (or linked span) is remote.
fn remote_flags(trace_flags: u32, remote: bool) -> u32 {
    trace_flags | FLAGS_HAS_IS_REMOTE | if remote { FLAGS_IS_REMOTE } else { 0 }
}

/// An attribute value as a record holds it.
#[derive(Clone, Copy)]
enum AttributeValue<'a> {
    Str(&'a str),
    I64(i64),
    /// A number written as its decimal text (`messaging.message.id`).
    U64Text(u64),
    Value(&'a Value),
}

impl AttributeValue<'_> {
    /// The `KeyValue.value` field (an `AnyValue` message).
    #[inline]
    fn write(&self, out: &mut Cursor<'_>) -> Written {
        match self {
            AttributeValue::Str(s) => write_string(out, field::KEY_VALUE_VALUE, s),
            AttributeValue::I64(n) => write_int(out, field::KEY_VALUE_VALUE, *n),
            AttributeValue::U64Text(n) => {
                let mut text = itoa::Buffer::new();
                write_string(out, field::KEY_VALUE_VALUE, text.format(*n))
            }
            AttributeValue::Value(value) => write_value(out, field::KEY_VALUE_VALUE, value),
        }
    }
}

/// An `AnyValue` holding the string `s`, as field `tag`.
#[inline]
fn write_string(out: &mut Cursor<'_>, tag: u32, s: &str) -> Written {
    out.header(tag, field_len(field::ANY_STRING, s.len()))?;
    out.bytes(field::ANY_STRING, s.as_bytes())
}

/// An `AnyValue` holding `n`, as field `tag`.
#[inline]
fn write_int(out: &mut Cursor<'_>, tag: u32, n: i64) -> Written {
    out.header(tag, 1 + encoded_len_varint(n as u64))?;
    out.varint_always(field::ANY_INT, n as u64)
}

/// `value` as an `AnyValue` message in field `tag`.
fn write_value(out: &mut Cursor<'_>, tag: u32, value: &Value) -> Written {
    match value {
        Value::String(s) => write_string(out, tag, s.as_str()),
        Value::I64(n) => write_int(out, tag, *n),
        Value::Bool(b) => out.message(tag, 1, |out| {
            out.varint_always(field::ANY_BOOL, u64::from(*b))
        }),
        Value::F64(f) => out.message(tag, 1, |out| out.double_always(field::ANY_DOUBLE, *f)),
        Value::Array(array) => out.message(tag, 1, |out| {
            out.message(field::ANY_ARRAY, 1, |values| match array {
                Array::Bool(items) => items
                    .iter()
                    .try_for_each(|b| write_value(values, field::ARRAY_VALUES, &Value::Bool(*b))),
                Array::I64(items) => items
                    .iter()
                    .try_for_each(|n| write_value(values, field::ARRAY_VALUES, &Value::I64(*n))),
                Array::F64(items) => items
                    .iter()
                    .try_for_each(|f| write_value(values, field::ARRAY_VALUES, &Value::F64(*f))),
                Array::String(items) => items
                    .iter()
                    .try_for_each(|s| write_string(values, field::ARRAY_VALUES, s.as_str())),
                other => write_value(values, field::ARRAY_VALUES, &Value::from(other.to_string())),
            })
        }),
        // A kind of value newer than this encoder: its text.
        other => write_value(out, tag, &Value::from(other.to_string())),
    }
}

/// The trace state as its header text, when it has one.
fn write_trace_state(out: &mut Cursor<'_>, tag: u32, state: &TraceState) -> Written {
    if *state == TraceState::NONE {
        return Ok(());
    }
    out.string(tag, &state.header())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{
        Event, Link, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags,
        TraceId, TraceState,
    };
    use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::Resource;
    use prost::Message as _;

    use actor_core::trace::{
        BridgeSend, DeliveryParts, Operation, SenderLink, SpanExtras, SpanRecord, SpanRecorder,
    };

    use super::TraceRequest;
    use crate::pipeline::records::to_span_data;

    /// Keeps every record; samples everything.
    #[derive(Default)]
    struct Keep(Mutex<Vec<SpanRecord>>);

    impl SpanRecorder for Keep {
        fn sampled(&self, _: Option<&Context>, _: TraceId, _: &str, _: SpanKind) -> bool {
            true
        }
        fn record(&self, record: SpanRecord) {
            self.0.lock().unwrap().push(record);
        }
    }

    /// A real `send` record of a bridge, under a remote parent with a trace state.
    fn bridge_send() -> SpanRecord {
        let keep = Arc::new(Keep::default());
        let recorder: actor_core::trace::SharedRecorder = keep.clone();
        let parent = SpanContext::new(
            TraceId::from(0x0af7651916cd43dd8448eb211c80319c),
            SpanId::from(0xb7ad6b7169203331),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("vendor", "opaque")]).unwrap(),
        );
        let delivery = Arc::new(DeliveryParts {
            system: Value::from("nats"),
            attributes: vec![KeyValue::new("messaging.consumer.group.name", "pool")],
        });
        let (_cx, send) = BridgeSend::start(
            &recorder,
            Context::new().with_remote_span_context(parent),
            "send orders".into(),
            Value::from(StringValue::from(Arc::<str>::from("orders"))),
            "app::Order",
            delivery,
            Some(42),
        );
        send.expect("sampled").end(None);
        let record = keep.0.lock().unwrap().pop().expect("recorded");
        record
    }

    /// Records of every shape the encoder meets: a bridge's `send`; a `process` parented and
    /// linked to its sender (message id, mailbox wait); one linked to another trace with
    /// extras of every value kind, events, links and an error; a root `tell` with status ok;
    /// two that differ from the `process` only in what the encoder keeps encoded.
    pub(crate) fn records() -> Vec<SpanRecord> {
        let send = bridge_send();

        let mut process = bridge_send();
        process.operation = Operation::Process;
        process.name = "process orders".into();
        process.link = SenderLink::Parent(TraceFlags::SAMPLED);
        process.mailbox_wait_ns = Some(1_234);
        process.message_id = 77;
        process.delivery = None;
        process.body_size = None;

        let mut linked = bridge_send();
        linked.operation = Operation::Process;
        linked.parent_is_remote = false;
        linked.link = SenderLink::Other(Box::new(SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::default(),
            true,
            TraceState::NONE,
        )));
        linked.extras = Some(Box::new(SpanExtras {
            attributes: vec![
                KeyValue::new("flag", true),
                KeyValue::new("ratio", 0.25),
                KeyValue::new("count", -3_i64),
                KeyValue::new("empty", ""),
                // Longer than the one byte kept for an attribute's length.
                KeyValue::new("long", "x".repeat(300)),
                KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
                KeyValue::new("ints", Value::Array(Array::I64(vec![0, 1, -1]))),
                KeyValue::new("floats", Value::Array(Array::F64(vec![1.5]))),
                KeyValue::new(
                    "strings",
                    Value::Array(Array::String(vec!["a".into(), "".into()])),
                ),
            ],
            events: vec![Event::new(
                "retry",
                std::time::SystemTime::now(),
                vec![KeyValue::new("attempt", 2_i64)],
                1,
            )],
            links: vec![Link::new(
                SpanContext::new(
                    TraceId::from(9),
                    SpanId::from(10),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::NONE,
                ),
                vec![KeyValue::new("why", "batch")],
                2,
            )],
            status: Status::error("handler failed"),
        }));

        let mut root = bridge_send();
        root.operation = Operation::Tell;
        root.parent_span_id = SpanId::INVALID;
        root.parent_is_remote = false;
        root.thread = None;
        root.delivery = None;
        root.body_size = None;
        root.extras = Some(Box::new(SpanExtras {
            status: Status::Ok,
            ..Default::default()
        }));

        // The repeated runs of another destination, message type and thread, after a
        // record that shares the rest with it.
        let mut other = process.clone();
        other.destination = Value::from("other");
        other.message_type = "app::Other";
        other.thread = Some((Value::from("other-thread"), 99));
        let mut same_thread_other_type = process.clone();
        same_thread_other_type.message_type = "app::Third";
        if let Some((name, id)) = &process.thread {
            // A thread of the same name (a restarted actor's new thread).
            same_thread_other_type.thread = Some((name.clone(), id + 1));
        }

        // Another message of the send's batch (the same shared parts), and one of another
        // batch, whose parts say something else.
        let mut same_batch = send.clone();
        same_batch.body_size = Some(7);
        let mut other_batch = send.clone();
        other_batch.delivery = Some(Arc::new(DeliveryParts {
            system: Value::from("nats"),
            attributes: vec![KeyValue::new("messaging.batch.message_count", 3_i64)],
        }));

        vec![
            send,
            process,
            linked,
            root,
            other,
            same_thread_other_type,
            same_batch,
            other_batch,
        ]
    }

    fn resource() -> Resource {
        Resource::builder_empty()
            .with_schema_url(
                [KeyValue::new("service.name", "wire-test")],
                "https://opentelemetry.io/schemas/1.26.0",
            )
            .build()
    }

    /// What the SDK path makes of the records: `SpanData`, then `opentelemetry-proto`'s
    /// transform, as opentelemetry-otlp exports them.
    fn through_sdk(
        records: &[SpanRecord],
        scope: &InstrumentationScope,
    ) -> ExportTraceServiceRequest {
        let spans = records
            .iter()
            .map(|r| to_span_data(&mut r.clone(), scope))
            .collect();
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(&resource()),
            ),
        }
    }

    #[test]
    fn records_encode_as_the_sdk_path_exports_them() {
        let records = records();
        let scope = InstrumentationScope::builder("actor-core")
            .with_version("1.2.3")
            .with_schema_url("https://example.com/scope")
            .build();
        let mut request = TraceRequest::new(&resource(), &scope);
        for record in &records {
            request.push(record);
        }
        assert_eq!(request.len(), records.len());
        let mut bytes = Vec::new();
        request.finish(&mut bytes);
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("valid protobuf");
        let expected = through_sdk(&records, &scope);
        let spans =
            |r: &ExportTraceServiceRequest| r.resource_spans[0].scope_spans[0].spans.clone();
        for (ours, sdk) in spans(&decoded).iter().zip(spans(&expected).iter()) {
            assert_eq!(ours, sdk, "span {:?}", sdk.name);
        }
        assert_eq!(decoded, expected);
    }

    /// Spans past the room kept ready for them, one of them larger than all of it: each is
    /// written whole (the large one again, into more room), as the SDK path exports them.
    #[test]
    fn spans_past_the_room_kept_are_encoded_whole() {
        let mut records: Vec<SpanRecord> = (0..100).flat_map(|_| records()).collect();
        let mut large = records[1].clone();
        let extras = large.extras.get_or_insert_with(Default::default);
        extras
            .attributes
            .push(KeyValue::new("large", "x".repeat(3 * super::SPANS_STEP)));
        records.insert(7, large);
        let scope = InstrumentationScope::builder("actor-core").build();
        let mut request = TraceRequest::new(&resource(), &scope);
        let bytes = request.encode_batch(&mut records.clone());
        let decoded = ExportTraceServiceRequest::decode(&bytes[..]).expect("valid protobuf");
        assert_eq!(decoded, through_sdk(&records, &scope));
    }

    #[test]
    fn a_batch_is_encoded_as_one_request_and_its_vector_left_empty() {
        let scope = InstrumentationScope::builder("actor-core").build();
        let mut request = TraceRequest::new(&resource(), &scope);
        let records = records();
        let mut batch = Vec::new();
        for round in 0..2 {
            // The second round fills the buffer that replaced the one handed over.
            let mut batch = records.clone();
            let bytes = request.encode_batch(&mut batch);
            assert!(batch.is_empty() && request.is_empty(), "round {round}");
            let decoded = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
            assert_eq!(decoded, through_sdk(&records, &scope), "round {round}");
        }
        assert!(
            request.encode_batch(&mut batch).is_empty(),
            "no records, no bytes"
        );
    }

    /// A resource larger than the room kept for the head when the first span came: the
    /// request is still whole, under the new resource.
    #[test]
    fn a_batch_under_a_grown_resource_is_encoded_whole() {
        let scope = InstrumentationScope::builder("actor-core").build();
        let small = Resource::builder_empty().build();
        let mut request = TraceRequest::new(&small, &scope);
        let records = records();
        request.push(&records[0]);
        let grown = Resource::builder_empty()
            .with_attribute(KeyValue::new("service.name", "x".repeat(500)))
            .build();
        request.set_resource(&grown);
        let bytes = request.encode_batch(&mut records[1..2].to_vec());
        let decoded = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
        assert_eq!(decoded, through_sdk_under(&records[..2], &scope, &grown));
    }

    /// What the SDK path makes of `records` under `resource` (which has no schema URL).
    fn through_sdk_under(
        records: &[SpanRecord],
        scope: &InstrumentationScope,
        resource: &Resource,
    ) -> ExportTraceServiceRequest {
        let mut expected = through_sdk(records, scope);
        expected.resource_spans[0].resource =
            Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: ResourceAttributesWithSchema::from(resource).attributes.0,
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            });
        expected.resource_spans[0].schema_url = String::new();
        expected
    }

    #[test]
    fn a_request_is_reused_and_an_empty_one_writes_nothing() {
        let records = records();
        let scope = InstrumentationScope::builder("actor-core").build();
        let mut request = TraceRequest::new(&resource(), &scope);
        let mut empty = Vec::new();
        request.finish(&mut empty);
        assert!(empty.is_empty() && request.is_empty());

        for round in 0..2 {
            for record in &records[..2] {
                request.push(record);
            }
            let mut bytes = Vec::new();
            request.finish(&mut bytes);
            assert!(request.is_empty(), "round {round}: emptied");
            let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
            assert_eq!(decoded, through_sdk(&records[..2], &scope), "round {round}");
        }

        // Under another resource: the same spans, the new resource.
        let other = Resource::builder_empty()
            .with_attribute(KeyValue::new("service.name", "other"))
            .build();
        request.set_resource(&other);
        request.push(&records[0]);
        let mut bytes = Vec::new();
        request.finish(&mut bytes);
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded, through_sdk_under(&records[..1], &scope, &other));
    }

    /// `record` as the usual in-process message has it: no trace state, not remote (the
    /// measurements' records).
    pub(crate) fn without_trace_state(record: &mut SpanRecord) {
        let sc = &record.span_context;
        record.span_context = SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags(),
            false,
            TraceState::NONE,
        );
    }

    /// What each path costs per span, printed (no assertion: a measurement, not a test).
    /// `cargo test --release -p actor-otel --lib wire::tests::cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement; run it in release"]
    fn cost() {
        let scope = InstrumentationScope::builder("actor-core").build();
        let attributes = ResourceAttributesWithSchema::from(&resource());
        // A batch of the usual shapes: a `send` and a linked `process` record per message,
        // no trace state, no extras (records are read in place by every path).
        let mut usual = records();
        usual.truncate(2);
        usual.iter_mut().for_each(without_trace_state);
        let mut batch: Vec<SpanRecord> = (0..256).flat_map(|_| usual.clone()).collect();
        let rounds = 400;
        let per_span = |start: std::time::Instant, n: usize| {
            start.elapsed().as_nanos() as f64 / (rounds * n) as f64
        };

        let start = std::time::Instant::now();
        for _ in 0..rounds {
            let spans: Vec<_> = batch.iter_mut().map(|r| to_span_data(r, &scope)).collect();
            drop(std::hint::black_box(spans));
        }
        let span_data = per_span(start, batch.len());

        let mut bytes = Vec::new();
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            let spans = batch.iter_mut().map(|r| to_span_data(r, &scope)).collect();
            let request = ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(spans, &attributes),
            };
            bytes.clear();
            request.encode(&mut bytes).unwrap();
            std::hint::black_box(&bytes);
        }
        let sdk_path = per_span(start, batch.len());

        let mut request = TraceRequest::new(&resource(), &scope);
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for record in &batch {
                request.push(record);
            }
            std::hint::black_box(request.finish_bytes());
        }
        let direct = per_span(start, batch.len());

        println!("ns per span: records to SpanData {span_data:.0}; to OTLP bytes through SpanData and opentelemetry-proto {sdk_path:.0}; straight to OTLP bytes {direct:.0}");
    }
}
