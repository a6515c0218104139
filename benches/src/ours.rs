//! Our framework: actors on their own threads, with or without tracing.

use actor_core::{Actor, ActorRef, ActorSystem, Ctx, Handler, MailboxSize, Message};
use actor_otel::testing::{Behaviour, OtlpReceiver};
use actor_otel::{Exporter, OtlpProtocol, PipelineMode, Telemetry};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;

use crate::Workload;

/// Counts `Tell`s, answers `Ping`s with the count.
pub struct Counter(u64);
impl Actor for Counter {}

/// A fire-and-forget message.
pub struct Tell(pub u64);
impl Message for Tell {
    type Reply = ();
}
impl Handler<Tell> for Counter {
    async fn handle(&mut self, _: Tell, _cx: &mut Ctx<Self>) {
        self.0 += 1;
    }
}

/// An ask: replies with the number of `Tell`s handled so far.
pub struct Ping(pub u64);
impl Message for Ping {
    type Reply = u64;
}
impl Handler<Ping> for Counter {
    async fn handle(&mut self, _: Ping, _cx: &mut Ctx<Self>) -> u64 {
        self.0
    }
}

/// What tracing is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracing {
    /// No SDK: messages only carry and restore the context.
    None,
    /// An SDK with one batching pipeline (shared by all actors) and a no-op exporter.
    Batching,
    /// An SDK with a pipeline per actor and a no-op exporter.
    PerActor,
    /// As `PerActor`, with only the `process` span per message (no `send` span for tells).
    ProcessOnly,
    /// Per-actor meter providers (metrics exported through a no-op exporter), no spans.
    MetricsOnly,
    /// As `PerActor`, the caller's trace unsampled (the default parent-based sampler):
    /// what an unsampled message costs with an SDK installed.
    Unsampled,
    /// As `PerActor`, the framework's spans made as SDK spans (no compact records).
    SdkSpans,
    /// As `PerActor`, every span encoded as the OTLP/HTTP exporter encodes it and the bytes
    /// discarded (`Exporter::otlp_encode_only`): the export thread's work for a real
    /// collector, without the network.
    OtlpEncode,
    /// As `PerActor`, exported over OTLP/HTTP to a receiver on loopback that decodes each
    /// request and keeps nothing: what export costs for real.
    OtlpHttp,
}

/// Our framework under one tracing set-up.
pub struct Ours {
    system: ActorSystem,
    telemetry: Option<Telemetry>,
    /// The collector of the `OtlpHttp` set-up (dropped after the telemetry).
    _collector: Option<OtlpReceiver>,
    actors: Vec<ActorRef<Counter>>,
    expected: Vec<u64>,
    runtime: tokio::runtime::Runtime,
    /// The caller's context: every message is sent from inside a sampled span.
    caller: Context,
}

impl Ours {
    /// Starts `actors` counters under `tracing`.
    pub fn start_with(actors: usize, tracing: Tracing) -> Self {
        Ours::start_with_mailbox(actors, tracing, MailboxSize::Bounded(1024))
    }

    /// Starts `actors` counters under `tracing`, with mailboxes of `mailbox` size.
    pub fn start_with_mailbox(actors: usize, tracing: Tracing, mailbox: MailboxSize) -> Self {
        let collector = (tracing == Tracing::OtlpHttp).then(|| {
            let receiver = OtlpReceiver::http().expect("a loopback OTLP receiver starts");
            receiver.set_behaviour(Behaviour::Discard);
            receiver
        });
        let telemetry = match tracing {
            Tracing::None => None,
            Tracing::Batching
            | Tracing::PerActor
            | Tracing::ProcessOnly
            | Tracing::MetricsOnly
            | Tracing::Unsampled
            | Tracing::SdkSpans
            | Tracing::OtlpEncode
            | Tracing::OtlpHttp => {
                Some(
                    Telemetry::builder()
                        .service_name("bench")
                        .exporter(if let Some(collector) = &collector {
                            Exporter::otlp(
                                OtlpProtocol::HttpProtobuf,
                                Some(collector.endpoint().to_owned()),
                            )
                            .without_metrics()
                            .without_logs()
                        } else if tracing == Tracing::OtlpEncode {
                            Exporter::otlp_encode_only().without_metrics()
                        } else if tracing == Tracing::MetricsOnly
                            && std::env::var("BENCH_NO_METRICS").is_err()
                        {
                            Exporter::noop()
                        } else {
                            // The tracing set-ups measure spans alone.
                            Exporter::noop().without_metrics()
                        })
                        .pipeline(if tracing == Tracing::Batching {
                            PipelineMode::Shared
                        } else {
                            PipelineMode::PerActor
                        })
                        .global(false)
                        .compact_spans(tracing != Tracing::SdkSpans)
                        .build()
                        .expect("the exporter starts"),
                )
            }
        };
        let mut builder = ActorSystem::builder()
            .name("bench")
            .spin(spin_from_env())
            .tracing(actor_core::trace::TracingOptions {
                send_span_on_tell: !matches!(tracing, Tracing::ProcessOnly | Tracing::MetricsOnly),
                process_spans: tracing != Tracing::MetricsOnly,
                ..Default::default()
            })
            .mailbox(mailbox);
        let caller = match &telemetry {
            Some(_) if tracing == Tracing::Unsampled => crate::remote_caller(false),
            Some(t) => {
                builder = builder.instrumentation(t.clone());
                use opentelemetry::trace::Tracer;
                Context::current_with_span(t.tracer("bench").start("caller"))
            }
            None => crate::remote_caller(true),
        };
        let system = builder.build();
        let actors: Vec<ActorRef<Counter>> = (0..actors)
            .map(|i| {
                system
                    .spawn(format!("counter-{i}"), || Counter(0))
                    .expect("spawn")
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Ours {
            system,
            telemetry,
            _collector: collector,
            expected: vec![0; actors.len()],
            actors,
            runtime,
            caller,
        }
    }

    fn confirm(&mut self, i: usize) {
        let actor = &self.actors[i];
        let seen = self
            .runtime
            .block_on(actor.ask(Ping(0)))
            .expect("ask to confirm");
        assert_eq!(seen, self.expected[i], "every tell was handled");
    }
}

impl Workload for Ours {
    const NAME: &'static str = "actor-core";

    fn start(actors: usize) -> Self {
        Ours::start_with(actors, Tracing::None)
    }

    fn ask_rtt(&mut self, n: u64) {
        let _in_span = self.caller.clone().attach();
        let actor = &self.actors[0];
        self.runtime.block_on(async {
            for i in 0..n {
                actor.ask(Ping(i)).await.expect("ask");
            }
        });
    }

    fn tell(&mut self, n: u64) {
        let _in_span = self.caller.clone().attach();
        let actor = &self.actors[0];
        self.runtime.block_on(async {
            for i in 0..n {
                actor.tell(Tell(i)).await.expect("tell");
            }
        });
        self.expected[0] += n;
        self.confirm(0);
    }

    fn fanout(&mut self, n: u64) {
        let _in_span = self.caller.clone().attach();
        let count = self.actors.len();
        let actors = &self.actors;
        self.runtime.block_on(async {
            for i in 0..n {
                actors[i as usize % count]
                    .tell(Tell(i))
                    .await
                    .expect("tell");
            }
        });
        for i in 0..count {
            self.expected[i] += n / count as u64 + u64::from((i as u64) < n % count as u64);
            self.confirm(i);
        }
    }

    fn stop(self) {
        if let Some(t) = &self.telemetry {
            if std::env::var_os("BENCH_EXPORT_CPU").is_some() {
                // Before the shutdown, while the export thread lives.
                let exported = t.stats().spans_exported;
                match crate::thread_cpu().get("otel-export") {
                    Some(&crate::ThreadCpu { threads: 1, ns }) => eprintln!(
                        "export thread: {:.0} ns of CPU per exported span ({exported} spans)",
                        ns as f64 / exported.max(1) as f64
                    ),
                    Some(&crate::ThreadCpu { threads, .. }) => eprintln!(
                        "export thread: {threads} alive (one per traced set-up): run one traced \
                         set-up at a time to read its CPU"
                    ),
                    None => {}
                }
            }
        }
        self.system.blocking_shutdown();
        if let Some(t) = self.telemetry {
            let _ = t.shutdown();
            warn_if_spans_lost("", &t);
        }
    }
}

/// A workload that is our framework under one set-up.
macro_rules! variant_workload {
    ($name:ident, $label:literal, $doc:literal, $start:expr) => {
        #[doc = $doc]
        pub struct $name(Ours);

        impl Workload for $name {
            const NAME: &'static str = $label;
            fn start(actors: usize) -> Self {
                $name($start(actors))
            }
            fn ask_rtt(&mut self, n: u64) {
                self.0.ask_rtt(n)
            }
            fn tell(&mut self, n: u64) {
                self.0.tell(n)
            }
            fn fanout(&mut self, n: u64) {
                self.0.fanout(n)
            }
            fn stop(self) {
                self.0.stop()
            }
        }
    };
}

variant_workload!(
    OursUnbounded,
    "actor-core (unbounded mailbox)",
    "Our framework with unbounded mailboxes (like ractor's), no tracing SDK.",
    |actors| Ours::start_with_mailbox(actors, Tracing::None, MailboxSize::Unbounded)
);
variant_workload!(
    OursBatching,
    "actor-core + SDK (batching, no-op exporter)",
    "Our framework with tracing: one batching pipeline, no-op exporter.",
    |actors| Ours::start_with(actors, Tracing::Batching)
);
variant_workload!(
    OursProcessOnly,
    "actor-core + SDK (per-actor, process spans only)",
    "Our framework with tracing: per-actor pipelines, process spans only.",
    |actors| Ours::start_with(actors, Tracing::ProcessOnly)
);
variant_workload!(
    OursMetrics,
    "actor-core + metrics (per-actor, no spans)",
    "Our framework with metrics only: per-actor meter providers, no spans.",
    |actors| Ours::start_with(actors, Tracing::MetricsOnly)
);
variant_workload!(
    OursPerActor,
    "actor-core + SDK (per-actor pipelines)",
    "Our framework with tracing: per-actor pipelines, send and process spans.",
    |actors| Ours::start_with(actors, Tracing::PerActor)
);
variant_workload!(
    OursUnsampled,
    "actor-core + SDK (per-actor, unsampled caller)",
    "Our framework with tracing, every message in an unsampled trace (parent-based sampler).",
    |actors| Ours::start_with(actors, Tracing::Unsampled)
);
variant_workload!(
    OursOtlpEncode,
    "actor-core + SDK (per-actor, OTLP encoding, no I/O)",
    "Our framework with tracing: per-actor pipelines, every span encoded as for OTLP/HTTP and discarded.",
    |actors| Ours::start_with(actors, Tracing::OtlpEncode)
);
variant_workload!(
    OursOtlpHttp,
    "actor-core + SDK (per-actor, OTLP/HTTP to loopback)",
    "Our framework with tracing: per-actor pipelines exporting over OTLP/HTTP to a loopback receiver that keeps nothing.",
    |actors| Ours::start_with(actors, Tracing::OtlpHttp)
);
variant_workload!(
    OursSdkSpans,
    "actor-core + SDK (per-actor, SDK spans, no records)",
    "Our framework with tracing: per-actor pipelines, send and process spans as SDK spans.",
    |actors| Ours::start_with(actors, Tracing::SdkSpans)
);

/// Prints a warning (prefixed by `label`) when `telemetry` did not export every span its
/// set-up ended: a figure is only worth something if it did.
pub fn warn_if_spans_lost(label: &str, telemetry: &Telemetry) {
    let stats = telemetry.stats();
    let lost = stats.spans_dropped_queue_full
        + stats.spans_dropped_after_shutdown
        + stats.spans_failed_export;
    if lost > 0 {
        eprintln!(
            "warning: {label}{lost} of {} spans not exported ({stats:?})",
            stats.spans_ended
        );
    }
}

/// The spin limit: `BENCH_SPIN_US` (microseconds) when set, for experiments; else the default.
fn spin_from_env() -> std::time::Duration {
    std::env::var("BENCH_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(
            std::time::Duration::from_micros(20),
            std::time::Duration::from_micros,
        )
}

/// Spawns `n` idle actors, confirms each runs, and shuts them all down.
pub fn spawn_and_shutdown(n: usize) {
    let system = ActorSystem::builder().name("spawn").build();
    let actors: Vec<ActorRef<Counter>> = (0..n)
        .map(|i| {
            system
                .spawn(format!("idle-{i}"), || Counter(0))
                .expect("spawn")
        })
        .collect();
    for a in &actors {
        a.blocking_ask(Ping(0)).expect("alive");
    }
    let report = system.blocking_shutdown();
    assert_eq!(report.actors.len(), n);
}

/// Resident memory added per idle actor, in bytes (from `/proc/self/statm`), over `n` actors.
pub fn rss_per_idle_actor(n: usize) -> Option<u64> {
    let system = ActorSystem::builder().name("rss").build();
    let before = resident_bytes()?;
    let actors: Vec<ActorRef<Counter>> = (0..n)
        .map(|i| {
            system
                .spawn(format!("idle-{i}"), || Counter(0))
                .expect("spawn")
        })
        .collect();
    for a in &actors {
        a.blocking_ask(Ping(0)).expect("alive");
    }
    let after = resident_bytes()?;
    system.blocking_shutdown();
    Some(after.saturating_sub(before) / n as u64)
}

/// The process's resident set size in bytes.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
