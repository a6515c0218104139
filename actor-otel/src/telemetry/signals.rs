//! [`SignalProviders`]: the meter and logger providers of one pipeline (the system's, or an
//! actor's), exporting through one hub, and how they are handed over at the pipeline's end.

use std::sync::Arc;

use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::Resource;

use crate::pipeline::hub::Hub;
use crate::pipeline::logs::HubLogProcessor;
use crate::pipeline::metrics::HubReader;
use crate::stats::Stats;

/// The metrics and logs of one pipeline, each present when the exporter takes it.
pub(super) struct SignalProviders {
    metrics: Option<(SdkMeterProvider, HubReader)>,
    logs: Option<SdkLoggerProvider>,
}

impl SignalProviders {
    /// Providers under `resource` whose readers and processors feed `hub`.
    pub(super) fn new(
        resource: &Resource,
        hub: &Arc<Hub>,
        stats: &Arc<Stats>,
        max_batch: usize,
        (metrics, logs): (bool, bool),
    ) -> Self {
        let metrics = metrics.then(|| {
            let reader = HubReader::new();
            hub.register_reader(reader.downgrade());
            let provider = SdkMeterProvider::builder()
                .with_resource(resource.clone())
                .with_reader(reader.clone())
                .build();
            (provider, reader)
        });
        let logs = logs.then(|| {
            SdkLoggerProvider::builder()
                .with_resource(resource.clone())
                .with_log_processor(HubLogProcessor::new(hub.clone(), stats.clone(), max_batch))
                .build()
        });
        SignalProviders { metrics, logs }
    }

    /// Which signals are on: (metrics, logs).
    pub(super) fn enabled(&self) -> (bool, bool) {
        (self.metrics.is_some(), self.logs.is_some())
    }

    pub(super) fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.metrics.as_ref().map(|(provider, _)| provider)
    }

    pub(super) fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logs.as_ref()
    }

    /// Hands the buffered log records and the last metric values to `hub` and shuts both
    /// providers down; the span flush that follows waits for them (one queue).
    pub(super) fn hand_over(&self, hub: &Hub) {
        if let Some(logs) = &self.logs {
            let _ = logs.shutdown();
        }
        if let Some((provider, reader)) = &self.metrics {
            if let Some(last) = reader.collect_now() {
                hub.export_metrics(last);
            }
            let _ = provider.shutdown();
        }
    }
}
