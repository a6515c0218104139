//! [`LogBuffer`]: the log records one log processor holds, shared with the export hub (the
//! twin of `buffer.rs` for spans): the processor pushes and hands over full batches, the hub
//! drains partial ones on its schedule.

use std::sync::Mutex;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::Resource;

/// A batch of log records with their scopes.
pub(crate) type LogRecords = Vec<(SdkLogRecord, InstrumentationScope)>;

/// Records emitted but not yet handed to the hub, and the resource they belong to.
#[derive(Debug)]
pub(crate) struct LogBuffer {
    records: Mutex<LogRecords>,
    resource: Mutex<Resource>,
}

impl LogBuffer {
    pub(crate) fn new() -> Self {
        LogBuffer {
            records: Mutex::new(Vec::new()),
            resource: Mutex::new(Resource::builder_empty().build()),
        }
    }

    pub(crate) fn push(&self, record: SdkLogRecord, scope: InstrumentationScope) -> usize {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.push((record, scope));
        records.len()
    }

    /// The resource of the records handed over from now on.
    pub(crate) fn set_resource(&self, resource: &Resource) {
        *self.resource.lock().unwrap_or_else(|e| e.into_inner()) = resource.clone();
    }

    /// Takes the buffered records, if any, with their resource.
    pub(crate) fn take(&self) -> Option<(Resource, LogRecords)> {
        let batch = std::mem::take(&mut *self.records.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return None;
        }
        let resource = self
            .resource
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Some((resource, batch))
    }
}
