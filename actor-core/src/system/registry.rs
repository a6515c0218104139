//! The registry of one system: its live actors (by id, in spawn order, and by name), the
//! reports of those that stopped on their own, and whether the system is still running.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::cell::ActorCell;
use crate::error::SpawnError;
use crate::info::ActorId;
use crate::system::report::{ActorReport, ShutdownReport};

/// Whether a system accepts new actors.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SystemState {
    #[default]
    Running,
    ShuttingDown,
    Stopped,
}

/// One live actor, as the system knows it.
pub(crate) struct Entry {
    pub(crate) name: Arc<str>,
    pub(crate) cell: Arc<ActorCell>,
    /// The `ActorRef<A>`, for lookup by name.
    pub(crate) handle: Box<dyn Any + Send + Sync>,
    /// Where the actor's thread sends its report when shutdown stopped it.
    pub(crate) done: Option<oneshot::Receiver<ActorReport>>,
    pub(crate) thread: Option<JoinHandle<()>>,
    pub(crate) depends_on: Vec<ActorId>,
    /// The actor's parent, if it was spawned as a child: it stops before its parent.
    pub(crate) parent: Option<ActorId>,
}

/// Where the report of an actor that finished goes.
pub(crate) enum Finished {
    /// It stopped on its own: the report is kept, and its entry comes back to be dropped
    /// outside the lock.
    OnItsOwn(Entry),
    /// Shutdown took it and waits for this report.
    TakenByShutdown(ActorReport),
}

/// The live actors and the reports of those that stopped on their own.
#[derive(Default)]
pub(crate) struct Registry {
    /// Live actors by id; ids grow, so this is spawn order.
    actors: BTreeMap<ActorId, Entry>,
    names: HashMap<Arc<str>, ActorId>,
    /// Actors that stopped on their own before shutdown, in the order they stopped.
    finished: VecDeque<ActorReport>,
    /// Reports dropped from `finished` to keep it within [`ShutdownReport::HISTORY`].
    finished_omitted: u64,
    state: SystemState,
}

/// What shutdown takes from the registry: the live actors, and the reports of those that
/// stopped before (with the count of older ones not kept).
pub(crate) struct Taken {
    pub(crate) actors: BTreeMap<ActorId, Entry>,
    pub(crate) finished: Vec<ActorReport>,
    pub(crate) omitted: u64,
}

impl Registry {
    /// Adds a new actor, unless the system stopped or the name is taken.
    pub(crate) fn register(&mut self, id: ActorId, entry: Entry) -> Result<(), SpawnError> {
        if self.state != SystemState::Running {
            return Err(SpawnError::SystemStopped);
        }
        if self.names.contains_key(&entry.name) {
            return Err(SpawnError::NameTaken(entry.name.to_string()));
        }
        self.names.insert(entry.name.clone(), id);
        self.actors.insert(id, entry);
        Ok(())
    }

    /// Keeps the handle of a registered actor's thread.
    pub(crate) fn set_thread(&mut self, id: ActorId, thread: JoinHandle<()>) {
        if let Some(entry) = self.actors.get_mut(&id) {
            entry.thread = Some(thread);
        }
    }

    /// Removes an actor.
    pub(crate) fn forget(&mut self, id: ActorId) -> Option<Entry> {
        let entry = self.actors.remove(&id)?;
        self.names.remove(&entry.name);
        Some(entry)
    }

    /// The handle of a live actor by name, if it has type `H`.
    pub(crate) fn lookup<H: Clone + 'static>(&self, name: &str) -> Option<H> {
        let id = self.names.get(name)?;
        self.actors.get(id)?.handle.downcast_ref::<H>().cloned()
    }

    /// How many actors are live.
    pub(crate) fn len(&self) -> usize {
        self.actors.len()
    }

    /// The names of the live actors, in spawn order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.actors.values().map(|e| e.name.to_string()).collect()
    }

    /// Records that actor `id` stopped. When it stopped on its own, its report is kept
    /// (and its entry returned, to be dropped outside the lock); when shutdown took it, the
    /// report comes back to be sent to the waiting shutdown.
    pub(crate) fn finished(&mut self, id: ActorId, report: ActorReport) -> Finished {
        let Some(entry) = self.forget(id) else {
            return Finished::TakenByShutdown(report);
        };
        if self.finished.len() == ShutdownReport::HISTORY {
            self.finished.pop_front();
            self.finished_omitted += 1;
        }
        self.finished.push_back(report);
        Finished::OnItsOwn(entry)
    }

    /// Starts shutdown: refuses new actors and takes every live one; `None` when shutdown
    /// already started.
    pub(crate) fn take_for_shutdown(&mut self) -> Option<Taken> {
        if self.state != SystemState::Running {
            return None;
        }
        self.state = SystemState::ShuttingDown;
        self.names.clear();
        Some(Taken {
            actors: std::mem::take(&mut self.actors),
            finished: Vec::from(std::mem::take(&mut self.finished)),
            omitted: self.finished_omitted,
        })
    }

    /// Marks shutdown as done.
    pub(crate) fn set_stopped(&mut self) {
        self.state = SystemState::Stopped;
    }

    /// Whether shutdown has started.
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.state != SystemState::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::ActorSystem;

    fn entry(settings: &Arc<crate::system::settings::Settings>, id: ActorId) -> Entry {
        let name: Arc<str> = format!("a{}", id.as_u64()).into();
        Entry {
            name: name.clone(),
            cell: Arc::new(ActorCell::new(id, name, settings.clone(), None, false)),
            handle: Box::new(()),
            done: None,
            thread: None,
            depends_on: Vec::new(),
            parent: None,
        }
    }

    #[test]
    fn reports_of_actors_that_stopped_on_their_own_are_kept_up_to_the_history_then_counted() {
        let settings = Arc::new(ActorSystem::builder().into_settings());
        let mut registry = Registry::default();
        let n = ShutdownReport::HISTORY as u64 + 3;
        for i in 1..=n {
            let id = ActorId(i);
            registry.register(id, entry(&settings, id)).unwrap();
            let report = ActorReport::failed_to_start(id, format!("a{i}"));
            assert!(
                matches!(registry.finished(id, report), Finished::OnItsOwn(_)),
                "stopped on its own"
            );
        }
        let taken = registry.take_for_shutdown().expect("first shutdown");
        assert_eq!(taken.finished.len(), ShutdownReport::HISTORY);
        assert_eq!(taken.omitted, 3);
        assert_eq!(taken.finished[0].id, ActorId(4), "the oldest went first");
        assert!(registry.take_for_shutdown().is_none(), "only once");
    }

    #[test]
    fn a_report_for_an_actor_shutdown_took_comes_back_to_be_sent() {
        let settings = Arc::new(ActorSystem::builder().into_settings());
        let mut registry = Registry::default();
        let id = ActorId(1);
        registry.register(id, entry(&settings, id)).unwrap();
        let taken = registry.take_for_shutdown().expect("first shutdown");
        assert_eq!(taken.actors.len(), 1);
        let report = ActorReport::failed_to_start(id, "a1".into());
        assert!(
            matches!(registry.finished(id, report), Finished::TakenByShutdown(_)),
            "handed back to shutdown"
        );
        assert!(matches!(
            registry.register(ActorId(2), entry(&settings, ActorId(2))),
            Err(SpawnError::SystemStopped)
        ));
    }
}
