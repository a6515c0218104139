//! The [`Ctx`] side of supervision trees: spawning children.

use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::SpawnError;
use crate::handle::actor_ref::ActorRef;
use crate::system::builder::ActorBuilder;

impl<A: Actor> Ctx<A> {
    /// Spawns a child of this actor with the system's defaults: an ordinary actor on its
    /// own thread (in the registry, found by name, in the shutdown report) whose failures
    /// this actor's [`SupervisionStrategy`](crate::SupervisionStrategy) decides. Children
    /// stop before their parent: at shutdown (without `depends_on`), and when the parent
    /// stops, fails or restarts, it first stops them (newest first) and waits for them.
    /// Spawn children in `started`, so a restarted parent spawns them afresh.
    pub fn spawn_child<C, F>(
        &self,
        name: impl Into<String>,
        factory: F,
    ) -> Result<ActorRef<C>, SpawnError>
    where
        C: Actor,
        F: Fn() -> C + Send + 'static,
    {
        self.child(name).spawn(factory)
    }

    /// Configures a child before spawning it: `cx.child("worker").mailbox(..).spawn(factory)`
    /// (see [`spawn_child`](Ctx::spawn_child)).
    pub fn child(&self, name: impl Into<String>) -> ActorBuilder<'_> {
        self.system.actor(name).under(self.node.clone())
    }
}
