//! Metrics: every actor's instruments count what really happened (counted, not guessed),
//! reach the exporter through the actor's own pipeline, and are collected a last time at
//! the actor's stop, in the stop order. An in-memory SDK metric exporter stands in for the
//! collector here; tests/export.rs checks the OTLP wire.

mod common;

use std::collections::HashMap;

use actor_core::metrics::{MetricsOptions, MAX_MESSAGE_TYPES};
use actor_core::{ActorSystem, Ctx, Handler, MailboxSize, Message, SendError};
use actor_otel::{BatchConfig, Exporter, PipelineMode, Telemetry};
use common::*;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::InMemoryMetricExporter;

/// A telemetry whose spans go nowhere and whose metrics are kept in `memory`.
fn telemetry(memory: &InMemoryMetricExporter, mode: PipelineMode) -> Telemetry {
    telemetry_with(memory, mode, BatchConfig::default())
}

/// [`telemetry`] with the export thread's schedules in `batch`.
fn telemetry_with(
    memory: &InMemoryMetricExporter,
    mode: PipelineMode,
    batch: BatchConfig,
) -> Telemetry {
    let memory = memory.clone();
    Telemetry::builder()
        .exporter(Exporter::noop().with_metrics(move || Ok(memory.clone())))
        .pipeline(mode)
        .batch(batch)
        .global(false)
        .build()
        .unwrap()
}

/// One data point: its pipeline (the resource's `actor.name`, or `system`), the metric, its
/// attributes as text, and its value (sums and gauges; a histogram's count).
#[derive(Debug, Clone)]
struct Point {
    pipeline: String,
    metric: String,
    attributes: HashMap<String, String>,
    value: f64,
}

fn points(exports: &[ResourceMetrics]) -> Vec<Point> {
    let mut out = Vec::new();
    for rm in exports {
        let pipeline = rm
            .resource()
            .get(&opentelemetry::Key::from_static_str("actor.name"))
            .map(|v| v.to_string())
            .unwrap_or_else(|| "system".into());
        for scope in rm.scope_metrics() {
            for metric in scope.metrics() {
                let mut push = |attrs: Vec<(String, String)>, value: f64| {
                    out.push(Point {
                        pipeline: pipeline.clone(),
                        metric: metric.name().to_owned(),
                        attributes: attrs.into_iter().collect(),
                        value,
                    })
                };
                let text =
                    |kv: &opentelemetry::KeyValue| (kv.key.to_string(), kv.value.to_string());
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(s)) => {
                        for p in s.data_points() {
                            push(p.attributes().map(text).collect(), p.value() as f64)
                        }
                    }
                    AggregatedMetrics::I64(MetricData::Sum(s)) => {
                        for p in s.data_points() {
                            push(p.attributes().map(text).collect(), p.value() as f64)
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Gauge(g)) => {
                        for p in g.data_points() {
                            push(p.attributes().map(text).collect(), p.value() as f64)
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            push(p.attributes().map(text).collect(), p.count() as f64)
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// The last exported value of `metric` in `pipeline` whose attributes include `with`.
fn last(points: &[Point], pipeline: &str, metric: &str, with: &[(&str, &str)]) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.pipeline == pipeline && p.metric == metric)
        .filter(|p| {
            with.iter()
                .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
        })
        .filter(|p| {
            with.iter().any(|(k, _)| *k == "error.type") || !p.attributes.contains_key("error.type")
        })
        .map(|p| p.value)
        .next_back()
}

struct Tick;
impl Message for Tick {
    type Reply = ();
}
impl Handler<Tick> for Probe {
    async fn handle(&mut self, _: Tick, _cx: &mut Ctx<Self>) {}
}

#[tokio::test(flavor = "multi_thread")]
async fn final_values_equal_what_was_sent_and_handled() {
    let memory = InMemoryMetricExporter::default();
    let telemetry = telemetry(&memory, PipelineMode::PerActor);
    let system = ActorSystem::builder()
        .name("metrics-test")
        .instrumentation(telemetry.clone())
        .metrics(MetricsOptions {
            duration_sample_every: 1,
        })
        .build();
    let a = system.spawn("counted", Probe::default).unwrap();
    let b = system.spawn("other", Probe::default).unwrap();
    for i in 0..300 {
        a.tell(Push(i)).await.unwrap();
    }
    for _ in 0..25 {
        a.ask(Tick).await.unwrap();
    }
    for i in 0..7 {
        b.tell(Push(i)).await.unwrap();
    }
    assert!(a.ask(Boom).await.is_err(), "the panic reaches the asker");
    assert_eq!(a.ask(Seen).await.unwrap(), Vec::<u64>::new(), "restarted");
    system.shutdown().await;

    let exports = memory.get_finished_metrics().unwrap();
    let points = points(&exports);
    let consumed = |pipeline, ty| {
        last(
            &points,
            pipeline,
            "messaging.client.consumed.messages",
            &[("actor.message.type", ty)],
        )
    };
    assert_eq!(
        consumed("counted", "metrics::common::actors::Push"),
        Some(300.0)
    );
    assert_eq!(consumed("counted", "metrics::Tick"), Some(25.0));
    assert_eq!(
        consumed("counted", "metrics::common::actors::Boom"),
        Some(1.0)
    );
    assert_eq!(
        consumed("other", "metrics::common::actors::Push"),
        Some(7.0)
    );
    let sent = last(&points, "counted", "messaging.client.sent.messages", &[]);
    // 300 tells, 25 asks, the Boom and the Seen.
    assert_eq!(sent, Some(327.0));
    assert_eq!(
        last(&points, "other", "messaging.client.sent.messages", &[]),
        Some(7.0)
    );
    assert_eq!(last(&points, "counted", "actor.panics", &[]), Some(1.0));
    assert_eq!(last(&points, "counted", "actor.restarts", &[]), Some(1.0));
    assert_eq!(last(&points, "other", "actor.panics", &[]), Some(0.0));
    // Every handled message sampled (1 in 1): the histogram counts equal the counters.
    let durations: f64 = points
        .iter()
        .filter(|p| p.pipeline == "counted" && p.metric == "messaging.process.duration")
        .fold(HashMap::new(), |mut m, p| {
            m.insert(p.attributes.get("actor.message.type").cloned(), p.value);
            m
        })
        .values()
        .sum();
    assert_eq!(durations, 327.0);
    for p in points.iter().filter(|p| p.pipeline == "counted") {
        assert_eq!(p.attributes["messaging.system"], "actor-core");
        assert_eq!(p.attributes["messaging.destination.name"], "counted");
        assert_eq!(p.attributes["actor.system"], "metrics-test");
    }
    let live = last(&points, "system", "actor.system.actors", &[]);
    assert!(
        live.is_some(),
        "the system pipeline observes its live actors: {points:#?}"
    );
    assert!(
        telemetry.stats().metric_exports >= 3,
        "{:?}",
        telemetry.stats()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_sends_are_counted_by_reason() {
    let memory = InMemoryMetricExporter::default();
    let telemetry = telemetry(&memory, PipelineMode::PerActor);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actor = system
        .actor("tiny")
        .mailbox(MailboxSize::Bounded(2))
        .spawn(Probe::default)
        .unwrap();
    let (gate, key) = Gate::new();
    actor.tell(gate).await.unwrap();
    // Fill the mailbox while the gate holds the handler, counting every refusal.
    let (mut delivered, mut full) = (1, 0);
    while full < 5 {
        match actor.try_tell(Push(delivered)) {
            Ok(()) => delivered += 1,
            Err(SendError::Full(_)) => full += 1,
            Err(other) => panic!("expected room or a full mailbox, got {other:?}"),
        }
    }
    drop(key);
    actor.stop();
    eventually("the actor to stop", || {
        !system.actor_names().contains(&"tiny".to_string())
    });
    assert!(matches!(actor.try_tell(Push(9)), Err(SendError::Closed(_))));
    system.shutdown().await;
    let points = points(&memory.get_finished_metrics().unwrap());
    let sent = |why: Option<&str>| match why {
        None => last(&points, "tiny", "messaging.client.sent.messages", &[]),
        Some(why) => last(
            &points,
            "tiny",
            "messaging.client.sent.messages",
            &[("error.type", why)],
        ),
    };
    assert_eq!(sent(None), Some(delivered as f64), "{points:#?}");
    assert_eq!(sent(Some("full")), Some(full as f64));
    // The bounded mailbox's depth, observed at the last collection: drained.
    assert_eq!(last(&points, "tiny", "actor.mailbox.depth", &[]), Some(0.0));
    // Refused after the actor's last collection: not in its final values.
    assert_eq!(sent(Some("closed")), None);
    // Everything delivered was handled (the stop drains the mailbox).
    let handled: f64 = ["Gate", "Push"]
        .iter()
        .filter_map(|ty| {
            let ty = format!("metrics::common::actors::{ty}");
            last(
                &points,
                "tiny",
                "messaging.client.consumed.messages",
                &[("actor.message.type", &ty)],
            )
        })
        .sum();
    assert_eq!(handled, delivered as f64);
}

/// Dependents stop first, and each actor's final metrics are exported before the next
/// actor stops: the last collection of each pipeline arrives in the stop order.
#[tokio::test(flavor = "multi_thread")]
async fn final_collections_arrive_in_the_stop_order() {
    let memory = InMemoryMetricExporter::default();
    let telemetry = telemetry(&memory, PipelineMode::PerActor);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let store = system.spawn("store", Probe::default).unwrap();
    let api = system
        .actor("api")
        .depends_on(store.id())
        .spawn(Probe::default)
        .unwrap();
    let edge = system
        .actor("edge")
        .depends_on(api.id())
        .spawn(Probe::default)
        .unwrap();
    for actor in [&store, &api, &edge] {
        actor.tell(Push(1)).await.unwrap();
    }
    system.shutdown().await;
    let exports = memory.get_finished_metrics().unwrap();
    let order: Vec<String> =
        points(&exports)
            .into_iter()
            .map(|p| p.pipeline)
            .fold(Vec::new(), |mut order, name| {
                order.retain(|n| *n != name);
                order.push(name);
                order
            });
    assert_eq!(order, ["edge", "api", "store", "system"]);
    assert_eq!(
        telemetry.stats().flush_order,
        ["edge", "api", "store", "system"]
    );
}

macro_rules! message_types {
    ($($name:ident)*) => {
        $(
            struct $name;
            impl Message for $name {
                type Reply = ();
            }
            impl Handler<$name> for Probe {
                async fn handle(&mut self, _: $name, _cx: &mut Ctx<Self>) {}
            }
        )*
        async fn one_of_each(actor: &actor_core::ActorRef<Probe>) -> usize {
            let mut n = 0;
            $( actor.tell($name).await.unwrap(); n += 1; )*
            n
        }
    };
}

message_types!(T01 T02 T03 T04 T05 T06 T07 T08 T09 T10 T11 T12 T13 T14 T15 T16 T17 T18 T19 T20
    T21 T22 T23 T24 T25 T26 T27 T28 T29 T30 T31 T32 T33 T34 T35 T36 T37 T38 T39 T40);

#[tokio::test(flavor = "multi_thread")]
async fn message_types_beyond_the_cap_share_one_series() {
    let memory = InMemoryMetricExporter::default();
    let telemetry = telemetry(&memory, PipelineMode::PerActor);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actor = system.spawn("many", Probe::default).unwrap();
    let kinds = one_of_each(&actor).await;
    one_of_each(&actor).await;
    system.shutdown().await;
    let points = points(&memory.get_finished_metrics().unwrap());
    let series: HashMap<String, f64> = points
        .iter()
        .filter(|p| p.pipeline == "many" && p.metric == "messaging.client.consumed.messages")
        .map(|p| (p.attributes["actor.message.type"].clone(), p.value))
        .collect();
    assert_eq!(series.len(), MAX_MESSAGE_TYPES + 1, "{series:?}");
    assert_eq!(series["_OTHER"], 2.0 * (kinds - MAX_MESSAGE_TYPES) as f64);
    assert_eq!(series.values().sum::<f64>(), 2.0 * kinds as f64);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exporter_without_metrics_turns_them_off() {
    let telemetry = Telemetry::builder()
        .exporter(Exporter::noop().without_metrics())
        .global(false)
        .build()
        .unwrap();
    assert!(telemetry.meter_provider().is_none());
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actor = system.spawn("quiet", Probe::default).unwrap();
    actor.ask(Push(1)).await.unwrap();
    system.shutdown().await;
    assert_eq!(telemetry.stats().metric_exports, 0);
}

/// The shared pipeline mode: every actor records into the system's meter provider, told
/// apart by `messaging.destination.name`.
#[tokio::test(flavor = "multi_thread")]
async fn the_shared_pipeline_keeps_actors_apart_by_attribute() {
    let memory = InMemoryMetricExporter::default();
    let telemetry = telemetry(&memory, PipelineMode::Shared);
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let one = system.spawn("one", Probe::default).unwrap();
    let two = system.spawn("two", Probe::default).unwrap();
    for _ in 0..3 {
        one.tell(Push(1)).await.unwrap();
    }
    two.ask(Push(1)).await.unwrap();
    system.shutdown().await;
    let points = points(&memory.get_finished_metrics().unwrap());
    let consumed = |actor: &str| {
        last(
            &points,
            "system",
            "messaging.client.consumed.messages",
            &[("messaging.destination.name", actor)],
        )
    };
    assert_eq!(consumed("one"), Some(3.0), "{points:#?}");
    assert_eq!(consumed("two"), Some(1.0));
}

/// Between stops, the export thread collects every actor's meter provider on its schedule
/// (`BatchConfig::metric_interval`, from `OTEL_METRIC_EXPORT_INTERVAL`): a running actor's
/// counts reach the exporter without any shutdown.
#[tokio::test(flavor = "multi_thread")]
async fn running_actors_are_collected_on_the_interval() {
    let memory = InMemoryMetricExporter::default();
    let telemetry = telemetry_with(
        &memory,
        PipelineMode::PerActor,
        BatchConfig {
            metric_interval: std::time::Duration::from_millis(20),
            ..BatchConfig::default()
        },
    );
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actor = system.spawn("running", Probe::default).unwrap();
    for i in 0..12 {
        actor.tell(Push(i)).await.unwrap();
    }
    actor.ask(Seen).await.unwrap();
    let consumed = |exports: &[ResourceMetrics]| {
        last(
            &points(exports),
            "running",
            "messaging.client.consumed.messages",
            &[("actor.message.type", "metrics::common::actors::Push")],
        )
    };
    eventually("a scheduled collection with all 12 tells", || {
        consumed(&memory.get_finished_metrics().unwrap()) == Some(12.0)
    });
    assert_eq!(system.actor_names(), ["running"], "still running");
    system.shutdown().await;
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// Metrics and logs add no thread: no SDK reader or batch thread, one thread per actor.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_logs_add_no_thread() {
    let telemetry = Telemetry::builder()
        .exporter(Exporter::noop())
        .global(false)
        .build()
        .unwrap();
    assert!(telemetry.meter_provider().is_some() && telemetry.logger_provider().is_some());
    let system = ActorSystem::builder()
        .instrumentation(telemetry.clone())
        .build();
    let actors: Vec<_> = (0..5)
        .map(|i| {
            system
                .spawn(format!("threads-{i}"), Probe::default)
                .unwrap()
        })
        .collect();
    for actor in &actors {
        actor.ask(Push(1)).await.unwrap();
    }
    let names = thread_names();
    let sdk: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("OpenTelemetry"))
        .collect();
    assert!(sdk.is_empty(), "SDK threads: {sdk:?}");
    let per_actor = names.iter().filter(|n| n.starts_with("threads-")).count();
    assert_eq!(per_actor, 5, "{names:?}");
    system.shutdown().await;
}
