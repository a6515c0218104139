//! [`Supervisor`]: applies an actor's restart limit over time, or for a child, asks its
//! parent's strategy.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::Context;

use crate::actor_thread::supervision::Supervision;
use crate::info::ActorId;
use crate::tree::node::{Decision, Node};

/// Applies a [`Supervision`] policy over time; for a child, asks its parent instead.
pub(crate) struct Supervisor {
    policy: Supervision,
    recent: VecDeque<Instant>,
    /// The actor and its parent's node, for a child.
    parent: Option<(ActorId, Arc<Node>)>,
}

impl Supervisor {
    pub(crate) fn new(policy: Supervision, me: ActorId, parent: Option<Arc<Node>>) -> Self {
        Supervisor {
            policy,
            recent: VecDeque::new(),
            parent: parent.map(|p| (me, p)),
        }
    }

    /// Records a panic of the factory or `started`; says whether the actor may restart
    /// (alone: a failed start restarts no sibling). A child that may not escalates to
    /// its parent.
    pub(crate) fn allow_restart(&mut self) -> bool {
        if let Some((me, parent)) = &self.parent {
            return match parent.child_failed(*me) {
                Decision::Restart(_) => true,
                Decision::Escalate => {
                    parent.escalate(Context::current());
                    false
                }
            };
        }
        self.allow_root_restart()
    }

    /// Records a panic of an actor without a parent; says whether its own policy lets it
    /// restart.
    pub(crate) fn allow_root_restart(&mut self) -> bool {
        match self.policy {
            Supervision::Stop => false,
            Supervision::Restart {
                max_restarts,
                within,
            } => {
                let now = Instant::now();
                while self
                    .recent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > within)
                {
                    self.recent.pop_front();
                }
                if self.recent.len() < max_restarts as usize {
                    self.recent.push_back(now);
                    true
                } else {
                    false
                }
            }
        }
    }
}
