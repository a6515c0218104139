//! The log processor of every pipeline, the twin of the span processor: records are
//! buffered on the thread that emits them (an actor's own, usually) and handed to the
//! export hub in full batches, on the hub's schedule, and at flush. No thread of its own
//! (unlike the SDK's `BatchLogProcessor`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
use opentelemetry_sdk::Resource;

use crate::pipeline::hub::Hub;
use crate::pipeline::log_buffer::LogBuffer;
use crate::stats::Stats;

/// Batches log records for one logger provider and exports them through a [`Hub`].
pub(crate) struct HubLogProcessor {
    buffer: Arc<LogBuffer>,
    hub: Arc<Hub>,
    stats: Arc<Stats>,
    max_batch: usize,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for HubLogProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubLogProcessor").finish_non_exhaustive()
    }
}

impl HubLogProcessor {
    /// A processor that batches `max_batch` records and registers its buffer with `hub`.
    pub(crate) fn new(hub: Arc<Hub>, stats: Arc<Stats>, max_batch: usize) -> Self {
        let buffer = Arc::new(LogBuffer::new());
        hub.register_logs(Arc::downgrade(&buffer));
        HubLogProcessor {
            buffer,
            hub,
            stats,
            max_batch: max_batch.max(1),
            shut_down: AtomicBool::new(false),
        }
    }

    fn hand_over(&self) {
        if let Some((resource, batch)) = self.buffer.take() {
            self.hub.export_logs(resource, batch);
        }
    }
}

impl LogProcessor for HubLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        Stats::add(&self.stats.logs_emitted, 1);
        if self.shut_down.load(Ordering::Acquire) {
            Stats::add(&self.stats.logs_dropped, 1);
            return;
        }
        if self.buffer.push(record.clone(), scope.clone()) >= self.max_batch {
            self.hand_over();
        }
    }

    /// Hands what is buffered to the hub; the span pipeline's flush that follows it in the
    /// teardown waits for both.
    fn force_flush(&self) -> OTelSdkResult {
        self.hand_over();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.hand_over();
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.buffer.set_resource(resource);
    }
}
