//! [`Node`]: one actor's place in its supervision tree: its parent, its children in spawn
//! order, its strategy and the window of recent failures it has counted.
//!
//! A child's failure is decided on the child's thread, under the parent node's lock, so
//! two children failing at once are counted one after the other.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use opentelemetry::Context;

use crate::cell::ActorCell;
use crate::error::SpawnError;
use crate::info::ActorId;
use crate::tree::strategy::{RestartScope, SupervisionStrategy};

/// What a parent's strategy decided about a failed child.
pub(crate) enum Decision {
    /// Restart these children, one after another, in this order (spawn order). The failed
    /// child is among them.
    Restart(Vec<Arc<ActorCell>>),
    /// Beyond the intensity: the parent fails.
    Escalate,
}

struct State {
    children: Vec<Arc<ActorCell>>,
    recent: VecDeque<Instant>,
    /// Set when the actor stops for good: no more children.
    closed: bool,
    /// The context of the failure a child escalated, for the parent's own `supervise` span.
    escalation: Option<Context>,
}

/// One actor's place in the tree.
pub(crate) struct Node {
    pub(crate) id: ActorId,
    pub(crate) name: Arc<str>,
    /// The actor's cell, to signal it (escalation).
    cell: Weak<ActorCell>,
    /// The parent's node, if this actor was spawned as a child.
    pub(crate) parent: Option<Arc<Node>>,
    strategy: SupervisionStrategy,
    state: Mutex<State>,
}

impl Node {
    pub(crate) fn new(
        cell: &Arc<ActorCell>,
        parent: Option<Arc<Node>>,
        strategy: SupervisionStrategy,
    ) -> Self {
        Node {
            id: cell.id,
            name: cell.name.clone(),
            cell: Arc::downgrade(cell),
            parent,
            strategy,
            state: Mutex::new(State {
                children: Vec::new(),
                recent: VecDeque::new(),
                closed: false,
                escalation: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Each change under the lock is a single push, removal or flag.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a child (before its thread starts). Refused once this actor stopped for good.
    pub(crate) fn add_child(&self, child: Arc<ActorCell>) -> Result<(), SpawnError> {
        let mut state = self.lock();
        if state.closed {
            return Err(SpawnError::ParentStopped(self.name.to_string()));
        }
        state.children.push(child);
        Ok(())
    }

    /// Removes a child that ended for good.
    pub(crate) fn remove_child(&self, id: ActorId) {
        self.lock().children.retain(|c| c.id != id);
    }

    /// The live children, in spawn order; `close` refuses new ones from now on.
    pub(crate) fn children(&self, close: bool) -> Vec<Arc<ActorCell>> {
        let mut state = self.lock();
        state.closed |= close;
        state.children.clone()
    }

    /// Records the failure of child `child` and decides, by this (the parent's) strategy.
    pub(crate) fn child_failed(&self, child: ActorId) -> Decision {
        let SupervisionStrategy {
            scope,
            max_restarts,
            within,
        } = self.strategy;
        let mut state = self.lock();
        let now = Instant::now();
        while state
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > within)
        {
            state.recent.pop_front();
        }
        if state.recent.len() >= max_restarts as usize {
            return Decision::Escalate;
        }
        state.recent.push_back(now);
        let position = state.children.iter().position(|c| c.id == child);
        let order = match (scope, position) {
            (RestartScope::OneForAll, Some(_)) => state.children.clone(),
            (RestartScope::RestForOne, Some(at)) => state.children[at..].to_vec(),
            (_, Some(at)) => vec![state.children[at].clone()],
            // Not (or no longer) a child here: it restarts alone.
            (_, None) => Vec::new(),
        };
        Decision::Restart(order)
    }

    /// A child failed beyond this actor's intensity: this actor must fail (`context`: the
    /// failing message's, for the trace).
    pub(crate) fn escalate(&self, context: Context) {
        self.lock().escalation = Some(context);
        if let Some(cell) = self.cell.upgrade() {
            cell.request_control(crate::cell::ESCALATED);
        }
    }

    /// The context of the escalated failure, once.
    pub(crate) fn take_escalation(&self) -> Context {
        self.lock().escalation.take().unwrap_or_default()
    }
}
