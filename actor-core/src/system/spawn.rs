//! Spawning: an actor's cell, mailbox and registry entry, and its OS thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::actor::Actor;
use crate::actor_thread::receive::Body;
use crate::actor_thread::ActorThread;
use crate::cell::ActorCell;
use crate::current;
use crate::error::SpawnError;
use crate::handle::actor_ref::ActorRef;
use crate::info::{ActorId, ActorInfo};
use crate::mailbox::envelope::Envelope;
use crate::mailbox::mailbox;
use crate::system::registry::{Entry, Finished};
use crate::system::report::ActorReport;
use crate::system::settings::ActorOptions;
use crate::system::ActorSystem;
use crate::tree::node::Node;

/// Ids are unique per process, across systems.
static NEXT_ACTOR_ID: AtomicU64 = AtomicU64::new(1);

impl ActorSystem {
    /// Spawns an actor with the system's defaults. `factory` runs on the actor's new thread,
    /// so the state may be `!Send`.
    pub fn spawn<A, F>(
        &self,
        name: impl Into<String>,
        factory: F,
    ) -> Result<ActorRef<A>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + 'static,
    {
        self.actor(name).spawn(factory)
    }

    /// Finds a live actor by name, if it has that type.
    pub fn lookup<A: Actor>(&self, name: &str) -> Option<ActorRef<A>> {
        self.registry().lookup::<ActorRef<A>>(name)
    }

    pub(crate) fn spawn_with<A, F>(
        &self,
        name: String,
        options: ActorOptions,
        parent: Option<Arc<Node>>,
        factory: F,
    ) -> Result<ActorRef<A>, SpawnError>
    where
        A: Actor,
        F: Fn() -> A + Send + 'static,
    {
        if let Some(core) = options.core {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if core >= cores {
                return Err(SpawnError::NoSuchCore { core, cores });
            }
        }
        let name: Arc<str> = name.into();
        let id = ActorId(NEXT_ACTOR_ID.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mailbox::<Envelope<A>>(options.mailbox);
        let cell = Arc::new(ActorCell::new(
            id,
            name.clone(),
            self.settings().clone(),
            tx.room(),
            options.track_load,
        ));
        let myself = ActorRef {
            cell: cell.clone(),
            tx,
        };
        let node = Arc::new(Node::new(&cell, parent.clone(), options.strategy));
        let (done_tx, done_rx) = oneshot::channel();
        self.registry().register(
            id,
            Entry {
                name: name.clone(),
                cell: cell.clone(),
                handle: Box::new(myself.clone()),
                done: Some(done_rx),
                thread: None,
                depends_on: options.depends_on.clone(),
                parent: parent.as_ref().map(|p| p.id),
            },
        )?;
        if let Some(parent) = &parent {
            if let Err(e) = parent.add_child(cell.clone()) {
                drop(self.registry().forget(id));
                return Err(e);
            }
        }
        let info = Arc::new(ActorInfo {
            id,
            name: name.clone(),
            system: self.settings().name.clone(),
            thread_id: current::new_thread_id(),
            core: options.core,
        });
        let system = self.handle();
        let on_finish = Box::new(move |report: ActorReport| system.actor_finished(report, done_tx));
        let body = Body::new(
            myself.clone(),
            rx,
            factory,
            options,
            info,
            self.handle(),
            node,
        );
        let thread = ActorThread::new(body, on_finish);
        match thread.start() {
            Ok(handle) => {
                self.registry().set_thread(id, handle);
                Ok(myself)
            }
            Err(e) => {
                if let Some(parent) = &parent {
                    parent.remove_child(id);
                }
                drop(self.registry().forget(id));
                Err(SpawnError::Thread(e))
            }
        }
    }

    /// Called by an actor's thread as its last act.
    fn actor_finished(&self, report: ActorReport, done: oneshot::Sender<ActorReport>) {
        let id = report.id;
        let finished = self.registry().finished(id, report);
        match finished {
            // Stopped on its own: the report is kept. The thread is ending: dropping its
            // handle (with the entry, outside the lock) detaches it.
            Finished::OnItsOwn(entry) => drop(entry),
            // Shutdown took the entry and waits on this report.
            Finished::TakenByShutdown(report) => {
                let _ = done.send(report);
            }
        }
    }
}
