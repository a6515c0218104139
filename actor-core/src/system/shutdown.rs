//! The ordered shutdown: dependents (and children) first, each actor drained, stopped and flushed on its
//! own thread within one deadline, the system's pipeline last.

use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::current;
use crate::info::ActorId;
use crate::system::registry::Taken;
use crate::system::report::{ActorReport, ShutdownReport};
use crate::system::ActorSystem;

impl ActorSystem {
    /// Stops every actor in order (see [`ShutdownReport`]) and then the system's own
    /// pipeline, without blocking the async caller. Each actor gets at most the stop
    /// timeout to drain, and all of them together the shutdown timeout; one that misses
    /// its time is reported and left behind, and the rest still stop. The report also
    /// lists the actors that stopped on their own before. A second call returns an empty
    /// report.
    pub async fn shutdown(&self) -> ShutdownReport {
        let system = self.clone();
        let caller = current::actor();
        let (tx, rx) = oneshot::async_channel();
        let spawned = std::thread::Builder::new()
            .name("actor-shutdown".into())
            .spawn(move || {
                let _ = tx.send(system.shutdown_from(caller));
            });
        match spawned {
            Ok(_) => rx.await.unwrap_or_default(),
            // No thread to spare: shut down here, blocking this one.
            Err(_) => self.shutdown_from(caller),
        }
    }

    /// [`shutdown`](ActorSystem::shutdown) for sync code: blocks until done.
    pub fn blocking_shutdown(&self) -> ShutdownReport {
        self.shutdown_from(current::actor())
    }

    /// Waits for SIGINT (Ctrl-C) or SIGTERM, then shuts down in order. Needs a tokio
    /// runtime with signals enabled (`enable_all`).
    pub async fn shutdown_on_signal(&self) -> std::io::Result<ShutdownReport> {
        wait_for_signal().await?;
        Ok(self.shutdown().await)
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.registry().is_shutting_down()
    }

    /// The ordered shutdown. `caller` is the actor calling it, if any: it is asked to stop
    /// but not waited for, since it is busy waiting here.
    pub(crate) fn shutdown_from(&self, caller: Option<ActorId>) -> ShutdownReport {
        let started = Instant::now();
        let Some(taken) = self.registry().take_for_shutdown() else {
            return ShutdownReport::default();
        };
        let Taken {
            actors: mut entries,
            finished: mut reports,
            omitted,
        } = taken;
        let graph: Vec<(ActorId, Vec<ActorId>)> = entries
            .iter()
            // A child stops before its parent, as if it depended on it.
            .map(|(id, e)| (*id, e.depends_on.iter().copied().chain(e.parent).collect()))
            .collect();
        let settings = self.settings().clone();
        let defaults = &*settings;
        let deadline = started.checked_add(defaults.shutdown_timeout);
        let order = stop_order(&graph);
        let mut out_of_time = false;
        for (position, id) in order.iter().enumerate() {
            let Some(mut entry) = entries.remove(id) else {
                continue;
            };
            entry.cell.request_stop();
            if Some(*id) == caller {
                continue;
            }
            let left = deadline.map_or(defaults.stop_timeout, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            if left.is_zero() && !out_of_time {
                out_of_time = true;
                // The whole shutdown is out of time: ask the rest to stop all at once
                // (they drain and flush on their own), report who did not make it.
                for id in &order[position + 1..] {
                    if let Some(entry) = entries.get(id) {
                        entry.cell.request_stop();
                    }
                }
            }
            let report = entry
                .done
                .take()
                .and_then(|done| done.recv_timeout(left.min(defaults.stop_timeout)).ok());
            match report {
                Some(report) => {
                    if let Some(thread) = entry.thread.take() {
                        let _ = thread.join();
                    }
                    reports.push(report);
                }
                None => reports.push(ActorReport::timed_out(*id, entry.name.to_string())),
            }
        }
        if let Some(instrumentation) = &settings.tracing.instrumentation {
            // Shutdown may run in a drop, even while unwinding: a panic here must not abort.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                instrumentation.system_stopped()
            }));
        }
        self.registry().set_stopped();
        ShutdownReport {
            actors: reports,
            omitted,
            elapsed: started.elapsed(),
        }
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

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
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
