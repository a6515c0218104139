//! [`Ctx`]: what a handler knows about the actor it runs in.

use std::rc::Rc;
use std::sync::Arc;

use opentelemetry::global::BoxedTracer;

use crate::actor::Actor;
use crate::handle::actor_ref::ActorRef;
use crate::info::{ActorId, ActorInfo};
use crate::schedule::Scheduled;
use crate::system::ActorSystem;
use crate::tree::node::Node;

/// The handler's view of its actor: its own reference, its system, its tracer.
/// Lives on the actor's thread.
pub struct Ctx<A: Actor> {
    pub(crate) myself: ActorRef<A>,
    pub(crate) system: ActorSystem,
    pub(crate) info: Arc<ActorInfo>,
    pub(crate) tracer: Rc<BoxedTracer>,
    /// Its timers and attached streams (`schedule/`).
    pub(crate) scheduled: Scheduled,
    /// This actor's place in its supervision tree (for `spawn_child`).
    pub(crate) node: Arc<Node>,
}

impl<A: Actor> std::fmt::Debug for Ctx<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("id", &self.info.id)
            .field("name", &self.info.name)
            .finish()
    }
}

impl<A: Actor> Ctx<A> {
    /// A reference to this actor (for self-sends, or to hand to others).
    pub fn myself(&self) -> &ActorRef<A> {
        &self.myself
    }

    /// This actor's id.
    pub fn id(&self) -> ActorId {
        self.info.id
    }

    /// This actor's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Facts about this actor and its thread.
    pub fn info(&self) -> &ActorInfo {
        &self.info
    }

    /// The system this actor belongs to (to spawn or look up other actors). This handle,
    /// and its clones, do not keep the system alive.
    pub fn system(&self) -> &ActorSystem {
        &self.system
    }

    /// This actor's tracer: its own pipeline's when `actor-otel` runs one per actor,
    /// otherwise the global provider's as it was when the actor started.
    pub fn tracer(&self) -> &BoxedTracer {
        &self.tracer
    }

    /// Stops this actor after the current message: new messages are refused, queued ones
    /// are still handled.
    pub fn stop(&self) {
        self.myself.stop();
    }
}
