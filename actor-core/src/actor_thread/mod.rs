//! An actor's OS thread: named after the actor, optionally bound to a CPU core, running
//! its own `current_thread` runtime and `LocalSet`, in which the [`receive`] loop runs.

use std::thread::JoinHandle;
use std::time::Instant;

use crate::actor::Actor;
use crate::actor_thread::receive::Body;
use crate::cell::Startup;
use crate::system::report::ActorReport;

pub(crate) mod receive;
mod restarts;
mod run;
pub(crate) mod spin;
pub(crate) mod supervision;
mod tree;

/// What the thread does with its final report (hands it to the system's registry).
pub(crate) type OnFinish = Box<dyn FnOnce(ActorReport) + Send>;

/// Everything an actor thread needs, moved onto it when it starts.
pub(crate) struct ActorThread<A: Actor, F> {
    body: Body<A, F>,
    on_finish: OnFinish,
}

impl<A: Actor, F: Fn() -> A + Send + 'static> ActorThread<A, F> {
    /// The thread that runs `body` and hands its final report to `on_finish`.
    pub(crate) fn new(body: Body<A, F>, on_finish: OnFinish) -> Self {
        ActorThread { body, on_finish }
    }

    /// Starts the OS thread, named after the actor.
    pub(crate) fn start(self) -> std::io::Result<JoinHandle<()>> {
        let name = self.body.cell().name.to_string();
        #[cfg(feature = "tracing")]
        let dispatch = crate::trace::tracing_bridge::dispatch::Inherited::capture();
        std::thread::Builder::new().name(name).spawn(move || {
            #[cfg(feature = "tracing")]
            let _dispatch = dispatch.enter();
            self.run()
        })
    }

    /// The body of the actor's OS thread.
    fn run(self) {
        let ActorThread { body, on_finish } = self;
        if let Some(core) = body.core() {
            core_affinity::set_for_current(core_affinity::CoreId { id: core });
        }
        let started = Instant::now();
        let cell = body.cell().clone();
        let parent = body.parent();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let report = match runtime {
            Ok(runtime) => {
                let local = tokio::task::LocalSet::new();
                let report = local.block_on(&runtime, body.receive_loop(started));
                drop(local);
                drop(runtime);
                report
            }
            Err(e) => {
                let why = format!("could not build the actor's runtime: {e}");
                cell.startup.send_replace(Startup::Failed(why.into()));
                ActorReport::failed_to_start(cell.id, cell.name.to_string())
            }
        };
        // Watchers first (a shutdown waiting for this report then finds their notices
        // queued), the registry next (the name is free), and only then the end that
        // `wait_stopped` sees.
        crate::watch::ctx::end(&cell, report.reason);
        if let Some(parent) = parent {
            parent.remove_child(cell.id);
        }
        let ended = report.clone();
        on_finish(report);
        cell.set_ended(&ended);
    }
}
