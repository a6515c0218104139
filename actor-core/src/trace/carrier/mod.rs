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
//! let cx = actor_core::trace::carrier::extract_with(
//!     &TraceContextPropagator::new(),
//!     &headers,
//!     &actor_core::trace::carrier::CarrierPolicy::default(),
//! );
//! assert!(cx.span().span_context().is_remote());
//! // then: actor.tell(msg).with_context(cx).await — the actor's spans continue that trace.
//! ```
//!
//! [`extract`] uses the global propagator, and W3C Trace Context + Baggage
//! ([`W3cPropagator`]) when none is installed (as with `Telemetry::builder().global(false)`
//! in `actor-otel`), so a valid `traceparent` is never dropped silently.

mod traceparent;
mod w3c;

use std::sync::Arc;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::SpanContext;
use opentelemetry::Context;

use crate::trace::instrumentation::Instrumentation;
use crate::trace::options::Propagation;

pub use w3c::W3cPropagator;

/// The length of a version-00 W3C `traceparent` value.
pub const TRACEPARENT_LEN: usize = traceparent::LEN;

/// The W3C `traceparent` value of `span_context` (version 00, only the sampled flag) as
/// ASCII bytes: what [`W3cPropagator`] injects for it, with no `String` made. For a bridge
/// that writes its own wire format.
pub fn traceparent_bytes(span_context: &SpanContext) -> [u8; TRACEPARENT_LEN] {
    traceparent::bytes(span_context)
}

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
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        if is("traceparent") {
            value.len() <= self.max_traceparent_len && well_formed_traceparent(value)
        } else if is("tracestate") {
            value.len() <= self.max_tracestate_len && members() <= self.max_tracestate_entries
        } else if is("baggage") {
            self.accept_baggage
                && value.len() <= self.max_baggage_len
                && members() <= self.max_baggage_entries
        } else {
            value.len() <= self.max_other_len
        }
    }
}

/// Whether `value` follows the W3C `traceparent` grammar: 2-hex version other than `ff`,
/// 32-hex non-zero trace id, 16-hex non-zero parent id, 2-hex flags, lowercase; version
/// `00` has exactly these four fields. (Propagators are lenient: the SDK's accepts short
/// ids and pads them, which would adopt a parent the sender never had.)
pub fn well_formed_traceparent(value: &str) -> bool {
    traceparent::parse(value).is_some()
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

/// [`extract_with`] using the global propagator and the default policy. When no global
/// propagator is installed (the API's no-op one, which reads no header), W3C Trace Context
/// and W3C Baggage ([`W3cPropagator`]) are used instead, so a valid `traceparent` still
/// continues its trace.
pub fn extract(carrier: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|global| {
        let propagator = if reads_nothing(global) {
            &W3cPropagator::new() as &dyn TextMapPropagator
        } else {
            global
        };
        extract_with(propagator, carrier, &CarrierPolicy::default())
    })
}

/// Whether `propagator` reads no header at all: the no-op propagator, the global default.
fn reads_nothing(propagator: &dyn TextMapPropagator) -> bool {
    propagator.fields().next().is_none()
}

/// Extracts a context from an outside carrier for a system, under the default policy,
/// with the first of: the system's [`Propagation::Carrier`] propagator (chosen explicitly),
/// the instrumentation's propagator ([`Instrumentation::propagator`]), the global one (W3C
/// when none is installed, as in [`extract`]). Called by `ActorSystem::extract`.
pub(crate) fn extract_for(
    propagation: &Propagation,
    instrumentation: Option<&dyn Instrumentation>,
    carrier: &dyn Extractor,
) -> Context {
    let own: Option<Arc<dyn TextMapPropagator + Send + Sync>> =
        instrumentation.and_then(|i| i.propagator());
    match (propagation, own) {
        (Propagation::Carrier(propagator), _) => {
            extract_with(propagator.as_ref(), carrier, &CarrierPolicy::default())
        }
        (Propagation::InProcess, Some(propagator)) => {
            extract_with(propagator.as_ref(), carrier, &CarrierPolicy::default())
        }
        (Propagation::InProcess, None) => extract(carrier),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::well_formed_traceparent;

    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::global::BoxedTracer;
    use opentelemetry::propagation::text_map_propagator::FieldIter;
    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
    use opentelemetry::trace::{TraceContextExt, TraceId};
    use opentelemetry::{Context, KeyValue};

    use super::{extract, extract_for};
    use crate::info::ActorInfo;
    use crate::trace::instrumentation::{ActorTelemetry, Instrumentation};
    use crate::trace::options::Propagation;

    // No test in this crate installs a global propagator: the global one is the no-op.

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn extract_without_a_global_propagator_reads_w3c() {
        let carrier = headers(&[
            ("traceparent", TRACEPARENT),
            ("tracestate", "rojo=00f067aa0ba902b7"),
            ("baggage", "tenant=acme"),
        ]);
        let cx = extract(&carrier);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_remote());
        assert_eq!(
            sc.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
        );
        assert_eq!(sc.trace_state().get("rojo"), Some("00f067aa0ba902b7"));
        assert_eq!(cx.baggage().get("tenant").map(|v| v.as_str()), Some("acme"));
        // Still under the policy: a padded id is not adopted, too much baggage is refused.
        let members: Vec<String> = (0..65).map(|i| format!("k{i}=v")).collect();
        let carrier = headers(&[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-f067aa0ba902b7-01",
            ),
            ("baggage", &members.join(",")),
        ]);
        let cx = extract(&carrier);
        assert!(!cx.span().span_context().is_valid());
        assert!(cx.baggage().is_empty());
    }

    /// Reads nothing; marks the context with its name as baggage.
    #[derive(Debug)]
    struct Marker(&'static str, Vec<String>);
    impl Marker {
        fn new(name: &'static str) -> Arc<Self> {
            Arc::new(Marker(name, vec!["x-marker".into()]))
        }
    }
    impl TextMapPropagator for Marker {
        fn inject_context(&self, _cx: &Context, _injector: &mut dyn Injector) {}
        fn extract_with_context(&self, cx: &Context, _extractor: &dyn Extractor) -> Context {
            cx.with_baggage(vec![KeyValue::new("by", self.0)])
        }
        fn fields(&self) -> FieldIter<'_> {
            FieldIter::new(&self.1)
        }
    }

    struct Instr(Option<Arc<Marker>>);
    impl Instrumentation for Instr {
        fn system_tracer(&self) -> BoxedTracer {
            opentelemetry::global::tracer("test")
        }
        fn actor_started(&self, _actor: &ActorInfo) -> ActorTelemetry {
            ActorTelemetry {
                tracer: opentelemetry::global::tracer("test"),
                meter: None,
                teardown: None,
                recorder: None,
            }
        }
        fn propagator(&self) -> Option<Arc<dyn TextMapPropagator + Send + Sync>> {
            self.0
                .clone()
                .map(|m| m as Arc<dyn TextMapPropagator + Send + Sync>)
        }
    }

    #[test]
    fn extract_for_prefers_the_systems_carrier_then_the_instrumentation_then_the_global() {
        let carrier = headers(&[("traceparent", TRACEPARENT)]);
        let by = |cx: Context| cx.baggage().get("by").map(|v| v.to_string());
        let carrier_propagation = Propagation::Carrier(Marker::new("carrier"));
        let own = Instr(Some(Marker::new("instrumentation")));
        let none = Instr(None);

        let cx = extract_for(&carrier_propagation, Some(&own), &carrier);
        assert_eq!(
            by(cx).as_deref(),
            Some("carrier"),
            "the system's own choice first"
        );
        let cx = extract_for(&Propagation::InProcess, Some(&own), &carrier);
        assert_eq!(by(cx).as_deref(), Some("instrumentation"));
        let cx = extract_for(&carrier_propagation, Some(&none), &carrier);
        assert_eq!(by(cx).as_deref(), Some("carrier"));
        let cx = extract_for(&carrier_propagation, None, &carrier);
        assert_eq!(by(cx).as_deref(), Some("carrier"));
        for instrumentation in [None, Some(&none as &dyn Instrumentation)] {
            let cx = extract_for(&Propagation::InProcess, instrumentation, &carrier);
            assert!(cx.span().span_context().is_remote(), "W3C fallback");
        }
    }

    #[test]
    fn a_traceparent_is_read_by_its_four_parts() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(well_formed_traceparent(ok));
        assert!(well_formed_traceparent(&format!(" {ok} ")));
        assert!(
            !well_formed_traceparent(&format!("{ok}-00")),
            "version 00 has four parts"
        );
        assert!(
            well_formed_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab"),
            "a later version may add parts"
        );
        assert!(!well_formed_traceparent(
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!well_formed_traceparent(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
        ));
        assert!(!well_formed_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"
        ));
        assert!(!well_formed_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
        ));
        assert!(!well_formed_traceparent(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
        ));
        assert!(!well_formed_traceparent(""));
    }
}
