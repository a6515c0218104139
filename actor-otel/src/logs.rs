//! Log records routed to the pipeline of the actor that emits them: [`ActorLoggerProvider`]
//! is an OpenTelemetry `LoggerProvider` whose logger hands each record to the current
//! actor's own logger provider (its resource, its place in the stop order), and to the
//! system's outside actors. Give it to a log bridge, such as
//! `opentelemetry-appender-tracing` (what [`Telemetry::log_layer`](crate::Telemetry) does
//! with the `tracing` feature) or `opentelemetry-appender-log`.
//!
//! A record emitted inside a handler carries the trace id and span id of the message's
//! `process` span: the SDK takes them from the active context, which the receive loop set.

use std::cell::RefCell;

use opentelemetry::logs::{Logger, LoggerProvider, Severity};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};

use crate::attribute::SCOPE;

thread_local! {
    /// The logger of the actor running on this thread, while it runs.
    static ACTOR_LOGGER: RefCell<Option<SdkLogger>> = const { RefCell::new(None) };
}

/// Makes `logger` the one records emitted on this (an actor's) thread go to.
pub(crate) fn enter_actor(logger: SdkLogger) {
    ACTOR_LOGGER.with(|l| *l.borrow_mut() = Some(logger));
}

/// Records emitted on this thread go to the system's pipeline again.
pub(crate) fn leave_actor() {
    ACTOR_LOGGER.with(|l| l.borrow_mut().take());
}

/// A logger provider that routes each record to the current actor's pipeline (see the
/// module docs). Cloning is cheap.
#[derive(Debug, Clone)]
pub struct ActorLoggerProvider {
    system: SdkLoggerProvider,
}

impl ActorLoggerProvider {
    pub(crate) fn new(system: SdkLoggerProvider) -> Self {
        ActorLoggerProvider { system }
    }
}

impl LoggerProvider for ActorLoggerProvider {
    type Logger = ActorLogger;

    fn logger_with_scope(&self, scope: InstrumentationScope) -> ActorLogger {
        ActorLogger {
            system: self.system.logger_with_scope(scope),
        }
    }
}

/// The logger of an [`ActorLoggerProvider`].
#[derive(Debug, Clone)]
pub struct ActorLogger {
    system: SdkLogger,
}

impl Logger for ActorLogger {
    type LogRecord = SdkLogRecord;

    fn create_log_record(&self) -> SdkLogRecord {
        self.system.create_log_record()
    }

    fn emit(&self, record: SdkLogRecord) {
        let record = ACTOR_LOGGER.with(|actor| match actor.try_borrow().ok().as_deref() {
            Some(Some(actor)) => {
                actor.emit(record);
                None
            }
            _ => Some(record),
        });
        if let Some(record) = record {
            self.system.emit(record);
        }
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.system.event_enabled(level, target, name)
    }
}

/// The scope of the loggers actor-otel makes for actors.
pub(crate) fn actor_logger(provider: &SdkLoggerProvider) -> SdkLogger {
    provider.logger(SCOPE)
}
