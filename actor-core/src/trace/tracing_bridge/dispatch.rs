//! The `tracing` dispatcher an actor thread runs with: the one that was the default where
//! the actor was spawned.
//!
//! `tracing`'s default dispatcher is per thread (`set_default`) or global
//! (`set_global_default`). A new OS thread sees only the global one, so without this an
//! application (or a test) that scopes its subscriber with `set_default` would see nothing
//! from its actors.

use tracing::subscriber::NoSubscriber;
use tracing::Dispatch;

/// The spawner's default dispatcher, to be made the actor thread's default.
pub(crate) struct Inherited(Option<Dispatch>);

impl Inherited {
    /// The calling thread's default dispatcher, unless it has none (then the actor thread
    /// keeps following the global default, even one installed later).
    pub(crate) fn capture() -> Self {
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        Inherited((!dispatch.is::<NoSubscriber>()).then_some(dispatch))
    }

    /// Makes it the calling (actor) thread's default until the guard is dropped.
    pub(crate) fn enter(self) -> Option<tracing::dispatcher::DefaultGuard> {
        self.0.map(|d| tracing::dispatcher::set_default(&d))
    }
}
