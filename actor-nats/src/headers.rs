//! The wire format's header names, and NATS headers as an OpenTelemetry carrier.
//!
//! A request carries `Actor-Message-Type` (which handler), `Content-Type` (which
//! [`Codec`](crate::Codec); none means JSON) and what the propagator injects
//! (`traceparent`, `tracestate`, `baggage` for W3C). A reply carries `Content-Type` when it
//! is not JSON, and on failure `Actor-Error` with the failure's kind and its text as the body.

use async_nats::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector};

/// The message type a request is for (see [`message_type_name`](crate::message_type_name)).
pub const MESSAGE_TYPE: &str = "Actor-Message-Type";
/// The body's codec.
pub const CONTENT_TYPE: &str = "Content-Type";
/// On a reply: the kind of failure (see [`ErrorKind`](crate::ErrorKind)); the body is its text.
pub const ERROR: &str = "Actor-Error";
/// On a batch of tells: how many messages its body holds (see the crate's wire format).
pub const BATCH: &str = "Actor-Batch";

/// A NATS header map as an [`Injector`]: header values that NATS cannot carry (line
/// breaks) are skipped rather than sent broken.
pub(crate) struct HeaderInjector<'a>(pub(crate) &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if crate::batch::valid_header(key, &value) {
            self.0.insert(key, value);
        }
    }
}

/// A NATS header map as an [`Extractor`]. NATS header names are case-sensitive on the wire;
/// propagators ask in lower case, so the lookup ignores case (first the exact name).
pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        get(Some(self.0), key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .map(|(name, _)| AsRef::<str>::as_ref(name))
            .collect()
    }
}

/// The value of header `name` (exact name, else any case).
pub(crate) fn get<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    let headers = headers?;
    if let Some(value) = headers.get(name) {
        return Some(value.as_str());
    }
    headers
        .iter()
        .find(|(key, _)| AsRef::<str>::as_ref(*key).eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first())
        .map(|v| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_carrier_ignores_case_and_refuses_line_breaks() {
        let mut headers = HeaderMap::new();
        HeaderInjector(&mut headers).set("traceparent", "00-ab-cd-01".into());
        HeaderInjector(&mut headers).set("baggage", "a=b\r\nX-Evil: 1".into());
        assert!(headers.get("baggage").is_none());
        headers.insert("TraceState", "k=v");
        let extractor = HeaderExtractor(&headers);
        assert_eq!(extractor.get("traceparent"), Some("00-ab-cd-01"));
        assert_eq!(extractor.get("tracestate"), Some("k=v"));
        assert_eq!(extractor.get("baggage"), None);
    }
}
