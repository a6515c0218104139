//! The settings of one system ([`Settings`], chosen on the builder and shared by every
//! actor reference) and of one actor ([`ActorOptions`], chosen on the actor's builder).

use std::sync::Arc;
use std::time::Duration;

use crate::actor_thread::supervision::Supervision;
use crate::dead_letter::DeadLetterOffice;
use crate::info::{ActorId, ActorInfo};
use crate::mailbox::size::MailboxSize;
use crate::trace::options::Relations;
use crate::trace::send::Tracing;
use crate::tree::strategy::SupervisionStrategy;

/// A hook run on an actor's thread.
pub(crate) type ActorHook = Arc<dyn Fn(&ActorInfo) + Send + Sync>;

/// Hooks run on every actor's thread at start and at stop.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) on_start: Vec<ActorHook>,
    pub(crate) on_stop: Vec<ActorHook>,
}

/// Everything a system was configured with. The send path reads `tracing`, `ask_timeout`
/// and `spin` on every message; the rest is read at spawn and at shutdown.
pub(crate) struct Settings {
    pub(crate) name: Arc<str>,
    pub(crate) tracing: Tracing,
    /// The default ask timeout (`None`: wait forever).
    pub(crate) ask_timeout: Option<Duration>,
    /// Longest spin before parking or awaiting a reply (zero: never spin).
    pub(crate) spin: Duration,
    /// Defaults for each actor.
    pub(crate) mailbox: MailboxSize,
    pub(crate) supervision: Supervision,
    /// The longest shutdown waits for one actor.
    pub(crate) stop_timeout: Duration,
    /// The longest shutdown waits for all actors together.
    pub(crate) shutdown_timeout: Duration,
    pub(crate) hooks: Hooks,
    /// Where messages that reached no handler are counted and reported.
    pub(crate) dead_letters: DeadLetterOffice,
}

impl Settings {
    /// The options an actor starts from: the system's defaults.
    pub(crate) fn actor_defaults(&self) -> ActorOptions {
        ActorOptions {
            mailbox: self.mailbox,
            supervision: self.supervision,
            core: None,
            depends_on: Vec::new(),
            relations: Relations::default(),
            track_load: false,
            strategy: SupervisionStrategy::default(),
        }
    }
}

/// Per-actor settings, chosen on an [`ActorBuilder`](crate::ActorBuilder).
#[derive(Debug, Clone)]
pub(crate) struct ActorOptions {
    pub(crate) mailbox: MailboxSize,
    pub(crate) supervision: Supervision,
    pub(crate) core: Option<usize>,
    pub(crate) depends_on: Vec<ActorId>,
    pub(crate) relations: Relations,
    /// Count messages in and out (pool members: least-loaded dispatch).
    pub(crate) track_load: bool,
    /// How this actor supervises its children.
    pub(crate) strategy: SupervisionStrategy,
}
