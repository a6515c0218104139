//! Reports of stopped actors, and the order in which a system stops them.

use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use crate::ActorId;

/// Why an actor stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A stop was requested (by shutdown, [`ActorRef::stop`](crate::ActorRef::stop) or
    /// [`Ctx::stop`](crate::Ctx::stop)); the mailbox was drained.
    Requested,
    /// Supervision gave up after panics; queued messages were dropped (asks were told).
    Failed,
    /// Its thread did not finish before the shutdown deadline; it was left behind.
    DeadlineExceeded,
    /// It never started: its factory or `started` hook panicked beyond the restart limit,
    /// or its thread could not build its runtime. Queued asks were told (`Dropped`).
    NotStarted,
}

/// How one actor ended.
#[derive(Debug, Clone)]
pub struct ActorReport {
    /// The actor's id.
    pub id: ActorId,
    /// The actor's name.
    pub name: String,
    /// Messages handled over the actor's life.
    pub handled: u64,
    /// Messages handled after the stop request (the drained mailbox).
    pub drained: u64,
    /// Messages dropped unhandled because supervision gave up.
    pub dropped: u64,
    /// Panics caught (factory, hooks and handlers).
    pub panics: u32,
    /// Restarts made by supervision.
    pub restarts: u32,
    /// Why the actor stopped.
    pub reason: StopReason,
    /// Whether it finished within the shutdown deadline.
    pub stopped_in_time: bool,
    /// Time from thread start to the end of teardown.
    pub lifetime: Duration,
}

impl ActorReport {
    pub(crate) fn failed_to_start(id: ActorId, name: String) -> Self {
        ActorReport {
            id,
            name,
            handled: 0,
            drained: 0,
            dropped: 0,
            panics: 0,
            restarts: 0,
            reason: StopReason::NotStarted,
            stopped_in_time: true,
            lifetime: Duration::ZERO,
        }
    }

    pub(crate) fn timed_out(id: ActorId, name: String) -> Self {
        ActorReport {
            reason: StopReason::DeadlineExceeded,
            stopped_in_time: false,
            ..ActorReport::failed_to_start(id, name)
        }
    }
}

/// What happened to every actor the system spawned: first those that stopped on their own
/// before shutdown (in the order they stopped), then those shutdown stopped, in stop order.
#[derive(Debug, Clone, Default)]
pub struct ShutdownReport {
    /// One report per actor: those that stopped before shutdown, then the stop order.
    pub actors: Vec<ActorReport>,
    /// Actors that stopped before shutdown whose reports were not kept (only the latest
    /// [`REPORT_HISTORY`](crate::REPORT_HISTORY) are).
    pub omitted: u64,
    /// Wall time of the whole shutdown, pipelines included.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// Whether every actor stopped within its deadline.
    pub fn all_in_time(&self) -> bool {
        self.actors.iter().all(|a| a.stopped_in_time)
    }

    /// Messages drained from mailboxes after the stop requests, summed.
    pub fn drained(&self) -> u64 {
        self.actors.iter().map(|a| a.drained).sum()
    }

    /// Messages handled over the actors' lives, summed.
    pub fn handled(&self) -> u64 {
        self.actors.iter().map(|a| a.handled).sum()
    }

    /// The names of the actors in the order they were stopped.
    pub fn order(&self) -> Vec<&str> {
        self.actors.iter().map(|a| a.name.as_str()).collect()
    }
}

/// The stop order: an actor stops only after every actor that depends on it (dependents
/// first); among actors free to stop, the most recently spawned goes first. Actors caught
/// in a dependency cycle stop last, newest first.
///
/// `actors` is in spawn order: `(id, ids it depends on)`.
pub(crate) fn stop_order(actors: &[(ActorId, Vec<ActorId>)]) -> Vec<ActorId> {
    let index: HashMap<ActorId, usize> = actors
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut dependents = vec![0usize; actors.len()];
    for (_, deps) in actors {
        for dep in deps {
            if let Some(&i) = index.get(dep) {
                dependents[i] += 1;
            }
        }
    }
    let mut ready: BinaryHeap<usize> = (0..actors.len()).filter(|&i| dependents[i] == 0).collect();
    let mut order = Vec::with_capacity(actors.len());
    let mut done = vec![false; actors.len()];
    while let Some(i) = ready.pop() {
        done[i] = true;
        order.push(actors[i].0);
        for dep in &actors[i].1 {
            if let Some(&j) = index.get(dep) {
                dependents[j] -= 1;
                if dependents[j] == 0 {
                    ready.push(j);
                }
            }
        }
    }
    order.extend(
        (0..actors.len())
            .rev()
            .filter(|&i| !done[i])
            .map(|i| actors[i].0),
    );
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ActorId {
        ActorId(n)
    }

    #[test]
    fn reverse_spawn_order_without_dependencies() {
        let actors = vec![(id(1), vec![]), (id(2), vec![]), (id(3), vec![])];
        assert_eq!(stop_order(&actors), vec![id(3), id(2), id(1)]);
    }

    #[test]
    fn dependents_stop_before_what_they_depend_on() {
        // 1 (api) depends on 3 (db); 2 is independent and newer than 1.
        let actors = vec![(id(1), vec![id(3)]), (id(2), vec![]), (id(3), vec![])];
        // 3 must wait for 1; 2 is newest free actor.
        assert_eq!(stop_order(&actors), vec![id(2), id(1), id(3)]);
    }

    #[test]
    fn cycles_still_stop_everyone() {
        let actors = vec![(id(1), vec![id(2)]), (id(2), vec![id(1)]), (id(3), vec![])];
        assert_eq!(stop_order(&actors), vec![id(3), id(2), id(1)]);
    }
}
