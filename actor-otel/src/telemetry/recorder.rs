//! [`HubRecorder`]: where a pipeline takes the framework's own spans as compact records,
//! sampled by the pipeline's sampler without building an SDK span, and buffered beside
//! the pipeline's SDK spans (the same flush, the same counts).

use std::sync::Arc;

use actor_core::trace::{SpanRecord, SpanRecorder};
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt as _, TraceId};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};

use crate::pipeline::processor::SpanSink;

/// A pipeline's span recorder: its sampler and its processor's sink.
#[derive(Debug)]
pub(crate) struct HubRecorder {
    sink: Arc<SpanSink>,
    sampling: Sampling,
}

/// How a recorder decides whether a span is sampled.
#[derive(Debug, Clone)]
pub(crate) enum Sampling {
    /// The SDK's default sampler, `ParentBased(AlwaysOn)`, read as its rule: a span follows
    /// its parent's sampled flag, a root is sampled. The same decision as the SDK's, without
    /// the call that builds a `SamplingResult` for every message.
    ParentBasedAlwaysOn,
    /// Any other sampler, asked through the SDK.
    Sdk(Box<dyn ShouldSample>),
}

impl Sampling {
    /// `ParentBasedAlwaysOn` when no sampler was chosen, in code or in `OTEL_TRACES_SAMPLER`
    /// (or the variable names that same default); else `chosen`, or the SDK's sampler
    /// from the environment.
    pub(crate) fn of(chosen: Option<Box<dyn ShouldSample>>) -> Sampling {
        let from_env = std::env::var("OTEL_TRACES_SAMPLER").ok();
        match chosen {
            Some(sampler) => Sampling::Sdk(sampler),
            None if from_env.is_none_or(|name| name == "parentbased_always_on") => {
                Sampling::ParentBasedAlwaysOn
            }
            None => Sampling::Sdk(opentelemetry_sdk::trace::Config::default().sampler),
        }
    }

    /// The same sampler for an SDK tracer provider.
    pub(crate) fn sdk_sampler(&self) -> Box<dyn ShouldSample> {
        match self {
            Sampling::ParentBasedAlwaysOn => {
                Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            }
            Sampling::Sdk(sampler) => sampler.clone(),
        }
    }

    fn sampled(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
    ) -> bool {
        match self {
            Sampling::ParentBasedAlwaysOn => {
                parent.is_none_or(|cx| follows(cx.span().span_context()))
            }
            Sampling::Sdk(sampler) => {
                let result = sampler.should_sample(parent, trace_id, name, &kind, &[], &[]);
                result.decision == SamplingDecision::RecordAndSample
            }
        }
    }

    /// [`sampled`](Sampling::sampled) under a context that holds the remote span context
    /// `parent` alone; the default rule makes no context for it.
    fn sampled_under_remote(
        &self,
        parent: &SpanContext,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
    ) -> bool {
        match self {
            Sampling::ParentBasedAlwaysOn => follows(parent),
            Sampling::Sdk(_) => {
                let cx = Context::new().with_remote_span_context(parent.clone());
                self.sampled(Some(&cx), trace_id, name, kind)
            }
        }
    }
}

/// The default rule: a child follows its parent's sampled flag; a root is sampled.
fn follows(parent: &SpanContext) -> bool {
    !parent.is_valid() || parent.is_sampled()
}

impl HubRecorder {
    /// Records into `sink`, sampling as `sampling` says.
    pub(crate) fn new(sink: Arc<SpanSink>, sampling: Sampling) -> Self {
        HubRecorder { sink, sampling }
    }
}

impl SpanRecorder for HubRecorder {
    #[inline]
    fn sampled(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
    ) -> bool {
        self.sampling.sampled(parent, trace_id, name, kind)
    }

    #[inline]
    fn sampled_under_remote(
        &self,
        parent: &SpanContext,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
    ) -> bool {
        self.sampling
            .sampled_under_remote(parent, trace_id, name, kind)
    }

    #[inline]
    fn record(&self, record: SpanRecord) {
        self.sink.push_record(record);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    use super::*;

    /// The default rule decides as the SDK's `ParentBased(AlwaysOn)` does, for every kind of
    /// parent: none, a context without a span, local or remote, sampled or not.
    #[test]
    fn the_default_rule_agrees_with_the_sdks_default_sampler() {
        let sdk = Sampling::Sdk(Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))));
        let rule = Sampling::ParentBasedAlwaysOn;
        let parent = |flags, remote| {
            Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from(7),
                SpanId::from(8),
                flags,
                remote,
                TraceState::NONE,
            ))
        };
        let parents = [
            None,
            Some(Context::new()),
            Some(parent(TraceFlags::SAMPLED, true)),
            Some(parent(TraceFlags::default(), true)),
            Some(parent(TraceFlags::SAMPLED, false)),
            Some(parent(TraceFlags::default(), false)),
        ];
        let mut unsampled = 0;
        for parent in &parents {
            for kind in [SpanKind::Producer, SpanKind::Consumer] {
                let args = (parent.as_ref(), TraceId::from(9), "send x", kind.clone());
                let expected = sdk.sampled(args.0, args.1, args.2, args.3.clone());
                assert_eq!(
                    rule.sampled(args.0, args.1, args.2, args.3.clone()),
                    expected,
                    "{parent:?}"
                );
                unsampled += usize::from(!expected);
                // A remote sender alone: the same decision, with no context made by the rule.
                if let Some(cx) = parent.as_ref().filter(|cx| cx.has_active_span()) {
                    let span = cx.span();
                    for sampling in [&rule, &sdk] {
                        assert_eq!(
                            sampling.sampled_under_remote(
                                span.span_context(),
                                args.1,
                                args.2,
                                args.3.clone()
                            ),
                            expected,
                            "{parent:?} alone"
                        );
                    }
                }
            }
        }
        assert_eq!(unsampled, 4, "the unsampled parents are followed");
    }

    /// What a decision costs each way, printed (a measurement, not a test).
    /// `cargo test --release -p actor-otel --lib recorder::tests::cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement; run it in release"]
    fn cost() {
        let sdk = Sampling::Sdk(Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))));
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ));
        for (label, sampling) in [("SDK", &sdk), ("rule", &Sampling::ParentBasedAlwaysOn)] {
            let n = 2_000_000;
            let start = std::time::Instant::now();
            let mut sampled = 0;
            for i in 0..n {
                let parent = std::hint::black_box(Some(&parent));
                let id = TraceId::from(i as u128 + 1);
                sampled += usize::from(sampling.sampled(parent, id, "send x", SpanKind::Producer));
            }
            assert_eq!(sampled, n);
            let ns = start.elapsed().as_nanos() as f64 / n as f64;
            println!("{label}: {ns:.1} ns a decision");
        }
    }

    #[test]
    fn a_chosen_sampler_is_asked_through_the_sdk() {
        let sampling = Sampling::of(Some(Box::new(Sampler::AlwaysOff)));
        assert!(matches!(sampling, Sampling::Sdk(_)));
        assert!(!sampling.sampled(None, TraceId::from(1), "send x", SpanKind::Producer));
    }
}
