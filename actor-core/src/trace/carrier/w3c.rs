//! [`W3cPropagator`]: W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage
//! (`baggage`) on the OpenTelemetry API crate alone, for when no SDK propagator is installed.

use std::str::FromStr;
use std::sync::OnceLock;

use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::Context;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use super::traceparent;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";

/// W3C Baggage limits: a longer header is ignored, members past the count are dropped.
const MAX_BAGGAGE_LEN: usize = 8192;
const MAX_BAGGAGE_MEMBERS: usize = 64;

/// Bytes percent-encoded in baggage keys and values on injection: everything outside the
/// W3C `baggage-octet` set, plus `%` (so a literal `%` survives the round trip) and `=`
/// (so propagators that split a member at every `=` still read the value whole).
const KEY_OR_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%')
    .add(b'=');

/// Bytes percent-encoded in each baggage property: as for values, but `=` stays, as it
/// separates a property's key from its value.
const PROPERTY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

fn fields() -> &'static [String; 3] {
    static FIELDS: OnceLock<[String; 3]> = OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.into(), TRACESTATE.into(), BAGGAGE.into()])
}

/// W3C Trace Context and W3C Baggage, in one propagator that needs only the OpenTelemetry
/// API crate. It reads what the SDK's `TraceContextPropagator` and `BaggagePropagator`
/// read, more strictly: a `traceparent` is adopted only when it follows the W3C grammar
/// ([`well_formed_traceparent`](super::well_formed_traceparent)). [`extract`](super::extract)
/// falls back to it when no global propagator is installed; pass it to
/// [`extract_with`](super::extract_with) to choose it yourself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct W3cPropagator {
    _private: (),
}

impl W3cPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        W3cPropagator { _private: () }
    }

    /// Whether `propagator` is this propagator: it reports this propagator's own field
    /// names (the same strings, not equal ones), as it does behind an `Arc` or a wrapper
    /// that hands over its fields. For a bridge that writes and reads the W3C headers
    /// itself when they are what the propagator in effect would write and read.
    pub fn is(propagator: &dyn TextMapPropagator) -> bool {
        propagator
            .fields()
            .next()
            .is_some_and(|first| std::ptr::eq(first.as_ptr(), fields()[0].as_ptr()))
    }

    /// What [`extract_with`](super::extract_with) gives with this propagator for a carrier
    /// that holds a `traceparent` of `value` and nothing else, under `policy`; with one
    /// reading of the value and no extractor. For a bridge that reads its own wire format.
    pub fn extract_traceparent(&self, value: &str, policy: &super::CarrierPolicy) -> Context {
        match self.traceparent_sender(value, policy) {
            Some(sender) => Context::new().with_remote_span_context(sender),
            None => Context::new(),
        }
    }

    /// The remote span context [`extract_traceparent`](Self::extract_traceparent) puts into
    /// its context, if any: for a bridge that hands it in without a context
    /// ([`Delivery::send_from`](crate::trace::Delivery::send_from)).
    pub fn traceparent_sender(
        &self,
        value: &str,
        policy: &super::CarrierPolicy,
    ) -> Option<SpanContext> {
        if value.len() > policy.max_traceparent_len {
            return None;
        }
        remote_parent(value, || TraceState::NONE)
    }
}

/// The remote span context in `traceparent` (and `tracestate`), if it is well formed.
fn span_context(extractor: &dyn Extractor) -> Option<SpanContext> {
    remote_parent(extractor.get(TRACEPARENT)?, || {
        extractor
            .get(TRACESTATE)
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default()
    })
}

/// The remote span context of the `traceparent` value `value`, with the trace state
/// `trace_state` gives (read only when the value is well formed), if it is valid.
fn remote_parent(value: &str, trace_state: impl FnOnce() -> TraceState) -> Option<SpanContext> {
    let (trace_id, span_id, flags) = traceparent::parse(value)?;
    // Only the sampled bit is defined; the others are zeroed (W3C "other flags").
    let flags = flags & TraceFlags::SAMPLED;
    let span_context = SpanContext::new(trace_id, span_id, flags, true, trace_state());
    span_context.is_valid().then_some(span_context)
}

/// The members of a `baggage` header: `key=value` with optional `;properties`, separated by
/// commas, percent-decoded. `None` when the header is longer than the W3C limit.
fn baggage_members(header: &str) -> Option<Vec<KeyValueMetadata>> {
    if header.len() > MAX_BAGGAGE_LEN {
        return None;
    }
    Some(
        header
            .split(',')
            .take(MAX_BAGGAGE_MEMBERS)
            .filter_map(baggage_member)
            .collect(),
    )
}

/// One `key=value;prop;prop` member; `None` when it has no `=` or is not UTF-8 once decoded.
fn baggage_member(member: &str) -> Option<KeyValueMetadata> {
    let mut parts = member.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let key = percent_decode_str(key.trim()).decode_utf8().ok()?;
    let value = percent_decode_str(value.trim()).decode_utf8().ok()?;
    let properties: Vec<String> = parts
        .filter_map(|p| percent_decode_str(p.trim()).decode_utf8().ok())
        .map(|p| p.into_owned())
        .collect();
    // The key is checked when the member enters `Baggage` (an invalid one is left out).
    Some(KeyValueMetadata::new(
        key.into_owned(),
        value.into_owned(),
        properties.join(";"),
    ))
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if span_context.is_valid() {
            injector.set(TRACEPARENT, traceparent::format(span_context));
            let state = span_context.trace_state().header();
            if !state.is_empty() {
                injector.set(TRACESTATE, state);
            }
        }
        let baggage = cx.baggage();
        if !baggage.is_empty() {
            let members: Vec<String> = baggage
                .iter()
                .map(|(key, (value, metadata))| {
                    let mut member = format!(
                        "{}={}",
                        utf8_percent_encode(key.as_str(), KEY_OR_VALUE),
                        utf8_percent_encode(value.as_str(), KEY_OR_VALUE)
                    );
                    let metadata = metadata.as_str().trim();
                    if !metadata.is_empty() {
                        for property in metadata.split(';') {
                            member.push(';');
                            member.extend(utf8_percent_encode(property, PROPERTY));
                        }
                    }
                    member
                })
                .collect();
            injector.set(BAGGAGE, members.join(","));
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut cx = match span_context(extractor) {
            Some(span_context) => cx.with_remote_span_context(span_context),
            None => cx.clone(),
        };
        if let Some(members) = extractor.get(BAGGAGE).and_then(baggage_members) {
            cx = cx.with_baggage(members);
        }
        cx
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::Context;
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
    use proptest::prelude::*;

    use super::{W3cPropagator, KEY_OR_VALUE};
    use crate::trace::carrier::well_formed_traceparent;

    fn sdk() -> TextMapCompositePropagator {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Baggage as sorted `(key, value, metadata)` triples, to compare contexts.
    fn baggage_of(cx: &Context) -> Vec<(String, String, String)> {
        let mut members: Vec<_> = cx
            .baggage()
            .iter()
            .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
            .collect();
        members.sort();
        members
    }

    fn same(ours: &Context, theirs: &Context) -> Result<(), String> {
        let (a, b) = (
            ours.span().span_context().clone(),
            theirs.span().span_context().clone(),
        );
        if a != b {
            return Err(format!("span context: ours {a:?}, sdk {b:?}"));
        }
        let (a, b) = (baggage_of(ours), baggage_of(theirs));
        if a != b {
            return Err(format!("baggage: ours {a:?}, sdk {b:?}"));
        }
        Ok(())
    }

    #[test]
    fn agrees_with_the_sdk_on_valid_headers() {
        let cases = [
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "",
                "",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                "foo=bar",
                "a=1",
            ),
            // Unknown flags are zeroed; future versions may carry more fields.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
                "",
                "",
            ),
            (
                "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-XYZxsf09",
                "",
                "",
            ),
            (
                " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 ",
                "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
                "userId=alice,serverNode=DF%2028,isProduction=false",
            ),
            (
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "vendor@tenant=x",
                "key1 = value1 ;prop1;prop2=v , key2=%E2%82%AC%25;p=%2C",
            ),
            // Invalid members are left out by both; the valid ones still count.
            ("", "", "novalue,k=v,bad key=1,=empty,ok=%F0%9F%98%80"),
            // A malformed tracestate is dropped by both; the parent still counts.
            (
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "nokey",
                "",
            ),
        ];
        for (traceparent, tracestate, baggage) in cases {
            let mut pairs = vec![("traceparent", traceparent), ("tracestate", tracestate)];
            if !baggage.is_empty() {
                pairs.push(("baggage", baggage));
            }
            let carrier = headers(&pairs);
            let ours = W3cPropagator::new().extract_with_context(&Context::new(), &carrier);
            let theirs = sdk().extract_with_context(&Context::new(), &carrier);
            same(&ours, &theirs).unwrap_or_else(|e| panic!("{carrier:?}: {e}"));
        }
    }

    #[test]
    fn refuses_what_the_sdk_would_pad_or_bend() {
        for traceparent in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-f067aa0ba902b7-01", // short parent id
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // a sign
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", // version 00 with more
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let carrier = headers(&[("traceparent", traceparent)]);
            let cx = W3cPropagator::new().extract_with_context(&Context::new(), &carrier);
            assert!(!cx.span().span_context().is_valid(), "{traceparent}");
        }
        // W3C allows `=` inside a value; the SDK cuts the value at it.
        let carrier = headers(&[("baggage", "token=abc=def")]);
        let cx = W3cPropagator::new().extract_with_context(&Context::new(), &carrier);
        assert_eq!(
            cx.baggage().get("token").map(|v| v.as_str()),
            Some("abc=def")
        );
        // Past the W3C length the header is ignored, as the SDK does.
        let long = format!("k={}", "v".repeat(9000));
        let carrier = headers(&[("baggage", &long)]);
        let cx = W3cPropagator::new().extract_with_context(&Context::new(), &carrier);
        assert!(cx.baggage().is_empty());
    }

    fn context(flags: TraceFlags, state: &str, baggage: &[(&str, &str, &str)]) -> Context {
        let span_context = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            flags,
            true,
            state.parse::<TraceState>().unwrap(),
        );
        let members: Vec<opentelemetry::baggage::KeyValueMetadata> = baggage
            .iter()
            .map(|(k, v, m)| {
                opentelemetry::baggage::KeyValueMetadata::new(k.to_string(), v.to_string(), *m)
            })
            .collect();
        Context::new()
            .with_remote_span_context(span_context)
            .with_baggage(members)
    }

    #[test]
    fn injection_round_trips_through_itself_and_the_sdk() {
        let cx = context(
            TraceFlags::SAMPLED,
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            &[
                ("user", "alice", ""),
                ("odd", " 50% off, today; \"quoted\" = yes \\ é", ""),
                ("with-props", "v", "p1;p2=x"),
            ],
        );
        let mut ours = HashMap::new();
        W3cPropagator::new().inject_context(&cx, &mut ours);
        assert!(well_formed_traceparent(&ours["traceparent"]));
        let back = W3cPropagator::new().extract_with_context(&Context::new(), &ours);
        same(&back, &cx).unwrap();
        // The SDK reads what we write, except that it trims decoded values (" 50% off…").
        let by_sdk = sdk().extract_with_context(&Context::new(), &ours);
        assert_eq!(by_sdk.span().span_context(), cx.span().span_context());
        assert_eq!(
            by_sdk.baggage().get("with-props").map(|v| v.as_str()),
            Some("v")
        );

        // And we read what the SDK writes.
        let cx = context(TraceFlags::default(), "", &[("user", "alice", "")]);
        let mut theirs = HashMap::new();
        sdk().inject_context(&cx, &mut theirs);
        let back = W3cPropagator::new().extract_with_context(&Context::new(), &theirs);
        same(&back, &cx).unwrap();
    }

    #[test]
    fn fields_name_the_three_headers() {
        let propagator = W3cPropagator::new();
        let fields: Vec<&str> = propagator.fields().collect();
        assert_eq!(fields, ["traceparent", "tracestate", "baggage"]);
    }

    /// Valid baggage members: token keys and any text, percent-encoded as a sender would.
    fn member() -> impl Strategy<Value = (String, String)> {
        (
            "[a-zA-Z0-9!#$&'*+.^_`|~-]{1,10}",
            any::<String>().prop_filter("no edge whitespace", |v| v.trim() == v),
        )
    }

    fn traceparent() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
            "00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]",
            "[0-9a-fA-F+ ]{2}-[0-9a-fA-F+]{30,34}-[0-9a-fA-F+]{14,18}-[0-9a-fA-F+]{1,3}(-.{0,4})?",
            any::<String>(),
        ]
    }

    /// Known by its own field names: behind an `Arc` or a wrapper that hands them over,
    /// not by a propagator that names the same fields.
    #[test]
    fn is_known_by_its_own_fields_only() {
        use opentelemetry::propagation::text_map_propagator::FieldIter;
        use opentelemetry::propagation::{Extractor, Injector};

        #[derive(Debug)]
        struct Wrapper(std::sync::Arc<dyn TextMapPropagator + Send + Sync>);
        impl TextMapPropagator for Wrapper {
            fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
                self.0.inject_context(cx, injector)
            }
            fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
                self.0.extract_with_context(cx, extractor)
            }
            fn fields(&self) -> FieldIter<'_> {
                self.0.fields()
            }
        }
        let w3c = W3cPropagator::new();
        assert!(W3cPropagator::is(&w3c));
        assert!(W3cPropagator::is(&Wrapper(std::sync::Arc::new(w3c))));
        assert!(!W3cPropagator::is(&sdk()));
        assert!(!W3cPropagator::is(&TraceContextPropagator::new()));
        assert!(!W3cPropagator::is(&Wrapper(std::sync::Arc::new(sdk()))));
        assert!(!W3cPropagator::is(
            &opentelemetry::propagation::TextMapCompositePropagator::new(vec![])
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn agrees_with_the_sdk_on_generated_headers(
            tp in "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
            ts in prop::collection::vec("[a-z][a-z0-9_*/-]{0,8}=[a-zA-Z0-9]{1,12}", 0..8),
            bg in prop::collection::vec(member(), 0..20),
        ) {
            let baggage: Vec<String> = bg
                .iter()
                .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, KEY_OR_VALUE)))
                .collect();
            let carrier = headers(&[
                ("traceparent", &tp),
                ("tracestate", &ts.join(",")),
                ("baggage", &baggage.join(",")),
            ]);
            let ours = W3cPropagator::new().extract_with_context(&Context::new(), &carrier);
            let theirs = sdk().extract_with_context(&Context::new(), &carrier);
            if let Err(e) = same(&ours, &theirs) {
                return Err(TestCaseError::fail(format!("{carrier:?}: {e}")));
            }
        }

        #[test]
        fn adopts_exactly_the_well_formed_parents_the_sdk_adopts(
            tp in traceparent(),
            ts in prop_oneof!["[a-z]{1,8}=[a-z0-9]{1,16}", any::<String>()],
        ) {
            let carrier = headers(&[("traceparent", &tp), ("tracestate", &ts)]);
            let ours = W3cPropagator::new().extract_with_context(&Context::new(), &carrier);
            let theirs = sdk().extract_with_context(&Context::new(), &carrier);
            let (ours, theirs) = (ours.span().span_context().clone(), theirs.span().span_context().clone());
            prop_assert_eq!(ours.is_valid(), theirs.is_valid() && well_formed_traceparent(&tp));
            if ours.is_valid() {
                prop_assert_eq!(ours, theirs);
            }
        }

        #[test]
        fn a_lone_traceparent_reads_as_through_the_extractor(
            tp in traceparent(),
            max in prop_oneof![Just(128usize), 0usize..64],
        ) {
            let policy = crate::trace::carrier::CarrierPolicy {
                max_traceparent_len: max,
                ..Default::default()
            };
            let carrier = headers(&[("traceparent", &tp)]);
            let general = crate::trace::carrier::extract_with(&W3cPropagator::new(), &carrier, &policy);
            let lone = W3cPropagator::new().extract_traceparent(&tp, &policy);
            let (lone_span, general_span) = (lone.span(), general.span());
            prop_assert_eq!(lone_span.span_context(), general_span.span_context());
            prop_assert_eq!(lone.has_active_span(), general.has_active_span());
        }
    }
}
