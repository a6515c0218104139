//! Contexts that arrive from outside the process — W3C `traceparent`/`tracestate` and
//! `baggage` headers from HTTP, a queue, another language's SDK — made safe to adopt.
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::trace::TraceContextExt;
//! use opentelemetry_sdk::propagation::TraceContextPropagator;
//!
//! let mut headers = HashMap::new();
//! headers.insert(
//!     "traceparent".to_string(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
//! );
//! let cx = actor_core::carrier::extract_with(
//!     &TraceContextPropagator::new(),
//!     &headers,
//!     &actor_core::carrier::CarrierPolicy::default(),
//! );
//! assert!(cx.span().span_context().is_remote());
//! // then: actor.tell(msg).with_context(cx).await — the actor's spans continue that trace.
//! ```

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::Context;

/// What is accepted from a carrier that came from outside. Values past a limit are ignored
/// (the rest of the carrier still counts), so a hostile header cannot make a trace adopt
/// an invalid parent or carry unbounded data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierPolicy {
    /// Longest `traceparent` accepted (W3C version 00 is 55 characters; default 128).
    pub max_traceparent_len: usize,
    /// Longest `tracestate` accepted (W3C: 512 characters).
    pub max_tracestate_len: usize,
    /// Most `tracestate` list members accepted (W3C: 32).
    pub max_tracestate_entries: usize,
    /// Longest `baggage` accepted (W3C: 8192 bytes).
    pub max_baggage_len: usize,
    /// Most `baggage` list members accepted (W3C: 180; default 64, as the SDK keeps).
    pub max_baggage_entries: usize,
    /// Whether baggage from outside is accepted at all (default: yes).
    pub accept_baggage: bool,
    /// Longest value of any other header the propagator asks for (B3, Jaeger…; default 512).
    pub max_other_len: usize,
}

impl Default for CarrierPolicy {
    fn default() -> Self {
        CarrierPolicy {
            max_traceparent_len: 128,
            max_tracestate_len: 512,
            max_tracestate_entries: 32,
            max_baggage_len: 8192,
            max_baggage_entries: 64,
            accept_baggage: true,
            max_other_len: 512,
        }
    }
}

impl CarrierPolicy {
    /// The policy that refuses outside baggage.
    pub fn without_baggage() -> Self {
        CarrierPolicy {
            accept_baggage: false,
            ..CarrierPolicy::default()
        }
    }

    fn admits(&self, key: &str, value: &str) -> bool {
        let members = || value.split(',').filter(|m| !m.trim().is_empty()).count();
        match key.to_ascii_lowercase().as_str() {
            "traceparent" => {
                value.len() <= self.max_traceparent_len && well_formed_traceparent(value)
            }
            "tracestate" => {
                value.len() <= self.max_tracestate_len && members() <= self.max_tracestate_entries
            }
            "baggage" => {
                self.accept_baggage
                    && value.len() <= self.max_baggage_len
                    && members() <= self.max_baggage_entries
            }
            _ => value.len() <= self.max_other_len,
        }
    }
}

/// Whether `value` follows the W3C `traceparent` grammar: 2-hex version other than `ff`,
/// 32-hex non-zero trace id, 16-hex non-zero parent id, 2-hex flags, lowercase; version
/// `00` has exactly these four fields. (Propagators are lenient: the SDK's accepts short
/// ids and pads them, which would adopt a parent the sender never had.)
pub fn well_formed_traceparent(value: &str) -> bool {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let parts: Vec<&str> = value.trim().split('-').collect();
    let [version, trace_id, parent_id, flags, rest @ ..] = parts.as_slice() else {
        return false;
    };
    hex(version, 2)
        && *version != "ff"
        && hex(trace_id, 32)
        && nonzero(trace_id)
        && hex(parent_id, 16)
        && nonzero(parent_id)
        && hex(flags, 2)
        && (rest.is_empty() || *version != "00")
}

/// An extractor that hides what the policy does not admit.
struct Bounded<'a> {
    inner: &'a dyn Extractor,
    policy: &'a CarrierPolicy,
}

impl Extractor for Bounded<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.inner.get(key).filter(|v| self.policy.admits(key, v))
    }

    fn keys(&self) -> Vec<&str> {
        self.inner.keys()
    }
}

/// Extracts a context from an outside carrier with `propagator`, under `policy`.
/// Never panics; a carrier without a valid parent gives a context without one, so the
/// actor's spans start a fresh trace.
pub fn extract_with(
    propagator: &dyn TextMapPropagator,
    carrier: &dyn Extractor,
    policy: &CarrierPolicy,
) -> Context {
    let bounded = Bounded {
        inner: carrier,
        policy,
    };
    propagator.extract_with_context(&Context::new(), &bounded)
}

/// [`extract_with`] using the global propagator and the default policy.
pub fn extract(carrier: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| {
        extract_with(p, carrier, &CarrierPolicy::default())
    })
}
