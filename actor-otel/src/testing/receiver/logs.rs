//! Received log records ([`ReceivedLog`]).

use std::collections::HashMap;

use opentelemetry::logs::Severity;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use super::store::{any_text, attribute, hex};

/// One log record as received over the wire, with its resource and scope.
#[derive(Debug, Clone)]
pub struct ReceivedLog {
    /// The record, as decoded.
    pub record: LogRecord,
    /// The resource attributes of its batch, as text.
    pub resource: HashMap<String, String>,
    /// The instrumentation scope name.
    pub scope: String,
}

impl ReceivedLog {
    /// The body as text (empty without one).
    pub fn body(&self) -> String {
        any_text(self.record.body.as_ref())
    }

    /// The severity number, when it is one of the 24 OTLP defines.
    pub fn severity(&self) -> Option<Severity> {
        use Severity::*;
        const BY_NUMBER: [Severity; 24] = [
            Trace, Trace2, Trace3, Trace4, Debug, Debug2, Debug3, Debug4, Info, Info2, Info3,
            Info4, Warn, Warn2, Warn3, Warn4, Error, Error2, Error3, Error4, Fatal, Fatal2, Fatal3,
            Fatal4,
        ];
        let number = usize::try_from(self.record.severity_number).ok()?;
        BY_NUMBER.get(number.checked_sub(1)?).copied()
    }

    /// The severity text, as the source gave it (empty when not set).
    pub fn severity_text(&self) -> &str {
        &self.record.severity_text
    }

    /// The event name (empty when not set).
    pub fn event_name(&self) -> &str {
        &self.record.event_name
    }

    /// Trace id as lowercase hex (empty outside a trace).
    pub fn trace_id(&self) -> String {
        hex(&self.record.trace_id)
    }

    /// Span id as lowercase hex (empty outside a span).
    pub fn span_id(&self) -> String {
        hex(&self.record.span_id)
    }

    /// A record attribute as text.
    pub fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.record.attributes, key)
    }
}
