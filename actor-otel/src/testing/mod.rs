//! Helpers for tests of traced code (the `testing` feature):
//!
//! - [`OtlpReceiver`]: a real OTLP receiver on loopback (HTTP/protobuf or gRPC) that takes
//!   spans ([`ReceivedSpan`]), metrics ([`ReceivedMetric`], read as [`MetricPoint`]s) and
//!   log records ([`ReceivedLog`]), counts connections and requests ([`Signal`]) and can be
//!   told to fail or stall ([`Behaviour`]);
//! - [`MemoryExporter`] and [`SpanStore`]: an in-memory exporter, behind
//!   [`Exporter::memory`](crate::Exporter::memory), that keeps its spans through shutdown
//!   and records the resource each [`ExportedSpan`] was exported under.

pub(crate) mod memory;
mod receiver;

pub use crate::testing::memory::{ExportedSpan, MemoryExporter, SpanStore};
pub use crate::testing::receiver::{
    Behaviour, HistogramPoint, MetricPoint, OtlpReceiver, PointValue, ReceivedLog, ReceivedMetric,
    ReceivedSpan, Signal,
};
/// The decoded OTLP types the receiver keeps (`opentelemetry_proto::tonic`), to name them.
pub use opentelemetry_proto::tonic as proto;
