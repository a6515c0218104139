//! Fuzzes the extraction of contexts from outside carriers: any bytes split into
//! `traceparent`, `tracestate` and `baggage` must never panic, never adopt an invalid or
//! malformed parent, and stay within the caps.
#![no_main]

use std::collections::HashMap;

use actor_core::trace::carrier::{extract_with, well_formed_traceparent, CarrierPolicy};
use libfuzzer_sys::fuzz_target;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let headers: HashMap<String, String> = ["traceparent", "tracestate", "baggage"]
        .iter()
        .map(|k| (k.to_string(), parts.next().unwrap_or("").to_owned()))
        .collect();
    let propagator = TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]);
    let policy = CarrierPolicy::default();
    let cx = extract_with(&propagator, &headers, &policy);
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        assert!(well_formed_traceparent(&headers["traceparent"]));
        let ids = format!("{}-{}", sc.trace_id(), sc.span_id());
        assert!(headers["traceparent"].contains(&ids));
        assert!(sc.trace_state().header().len() <= policy.max_tracestate_len);
    }
    assert!(cx.baggage().len() <= policy.max_baggage_entries);
    let refused = extract_with(&propagator, &headers, &CarrierPolicy::without_baggage());
    assert!(refused.baggage().is_empty());
});
