//! The settings of the pipelines: how actors' spans reach the exporter ([`PipelineMode`])
//! and the batching limits ([`BatchConfig`]).

use std::time::Duration;

/// How actors' spans reach the exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PipelineMode {
    /// Every actor uses the system's tracer provider.
    Shared,
    /// Each actor thread owns a tracer provider with its own resource (`thread.id`,
    /// `thread.name`, actor name) and its own batching, done on its own thread; exports go
    /// through the system's one export thread and one collector connection. The default.
    #[default]
    PerActor,
    /// Like `PerActor`, plus a separate exporter (own export thread, own connection) per
    /// actor: the Node.js-worker layout, for when actors must not share a connection.
    PerActorExporter,
}

/// Batching limits, defaulting to the standard `OTEL_BSP_*` variables.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Spans per export call (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512).
    pub max_batch_size: usize,
    /// Spans waiting for export per hub before new ones are dropped and counted
    /// (`OTEL_BSP_MAX_QUEUE_SIZE`, default 65 536).
    pub max_queue_size: usize,
    /// How often partial batches are exported (`OTEL_BSP_SCHEDULE_DELAY` ms, default 1000).
    pub scheduled_delay: Duration,
    /// Limit of one export call (`OTEL_BSP_EXPORT_TIMEOUT` ms, default 10 000).
    pub export_timeout: Duration,
    /// Limit of one flush or shutdown wait (default 5 s).
    pub flush_timeout: Duration,
    /// How often every pipeline's metrics are collected and exported
    /// (`OTEL_METRIC_EXPORT_INTERVAL` ms, default 60 000); each actor's are also collected
    /// a last time at its stop.
    pub metric_interval: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        let env = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        BatchConfig {
            max_batch_size: env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512) as usize,
            max_queue_size: env("OTEL_BSP_MAX_QUEUE_SIZE", 65_536) as usize,
            scheduled_delay: Duration::from_millis(env("OTEL_BSP_SCHEDULE_DELAY", 1_000)),
            export_timeout: Duration::from_millis(env("OTEL_BSP_EXPORT_TIMEOUT", 10_000)),
            flush_timeout: Duration::from_secs(5),
            metric_interval: Duration::from_millis(env("OTEL_METRIC_EXPORT_INTERVAL", 60_000)),
        }
    }
}
