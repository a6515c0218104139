//! Errors of the telemetry set-up.

/// Telemetry could not be set up or flushed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The exporter could not be built or its thread started.
    #[error("exporter: {0}")]
    Exporter(String),
    /// A flush or shutdown failed or timed out.
    #[error("flush: {0}")]
    Flush(String),
}
