//! What a shutdown reports: how each actor ended ([`ActorReport`]) and the whole
//! ([`ShutdownReport`]).

use std::time::Duration;

use crate::info::ActorId;

/// Why an actor stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
    /// It was killed ([`ActorRef::kill`](crate::ActorRef::kill)): it ended after the
    /// message in hand; the queued ones went to the dead letters (counted in `killed`).
    Killed,
    /// It supervised children whose failures went beyond its restart intensity: it stopped
    /// them and itself, and its own parent (if any) was told.
    Escalated,
    /// An actor linked to it (`Ctx::link`) ended abnormally.
    LinkFailed(ActorId),
}

impl StopReason {
    /// Whether the actor ended normally (a requested stop), rather than by failure, kill,
    /// escalation, a linked failure or a missed deadline.
    pub fn is_normal(self) -> bool {
        matches!(self, StopReason::Requested)
    }
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
    /// Queued messages that a kill sent to the dead letters unhandled.
    pub killed: u64,
    /// Messages for this actor that reached no handler, up to the moment this report was
    /// made (refused sends, dropped or killed queued messages): see
    /// [`DeadLetter`](crate::DeadLetter).
    pub dead_letters: u64,
    /// The actor that supervised this one, if it was spawned as a child.
    pub parent: Option<ActorId>,
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
            killed: 0,
            dead_letters: 0,
            parent: None,
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
    /// [`HISTORY`](ShutdownReport::HISTORY) are).
    pub omitted: u64,
    /// Wall time of the whole shutdown, pipelines included.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// How many reports of actors that stopped on their own a system keeps for its
    /// shutdown report; older ones are only counted (`omitted`), so a system that churns
    /// through actors does not grow without bound.
    pub const HISTORY: usize = 10_000;

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

    /// The supervision tree, printable: one line per actor (name, why it stopped, its
    /// restarts and panics when there were any), children indented under their parent in
    /// spawn order, roots in spawn order. An actor restarted by a parent's restart appears
    /// once per incarnation.
    ///
    /// ```text
    /// sup: Escalated
    /// ├── a: Failed, 2 restarts, 3 panics
    /// └── b: Requested, 2 restarts
    /// ```
    pub fn tree(&self) -> String {
        let mut by_id: Vec<&ActorReport> = self.actors.iter().collect();
        by_id.sort_by_key(|a| a.id);
        let known = |id: ActorId| by_id.iter().any(|a| a.id == id);
        let mut out = String::new();
        for root in by_id.iter().filter(|a| a.parent.is_none_or(|p| !known(p))) {
            write_subtree(&mut out, &by_id, root, "", "");
        }
        out
    }

    /// The names of the actors in the order they were stopped.
    pub fn order(&self) -> Vec<&str> {
        self.actors.iter().map(|a| a.name.as_str()).collect()
    }
}

/// One actor's line and, indented below, its children's.
fn write_subtree(
    out: &mut String,
    all: &[&ActorReport],
    actor: &ActorReport,
    lead: &str,
    indent: &str,
) {
    use std::fmt::Write as _;
    let _ = write!(out, "{lead}{}: {:?}", actor.name, actor.reason);
    if actor.restarts > 0 {
        let _ = write!(out, ", {} restarts", actor.restarts);
    }
    if actor.panics > 0 {
        let _ = write!(out, ", {} panics", actor.panics);
    }
    out.push('\n');
    let children: Vec<&&ActorReport> = all.iter().filter(|a| a.parent == Some(actor.id)).collect();
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, more) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        write_subtree(
            out,
            all,
            child,
            &format!("{indent}{branch}"),
            &format!("{indent}{more}"),
        );
    }
}
