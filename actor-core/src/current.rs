//! The actor-thread context, in the spirit of tokio's `runtime/context.rs`: one
//! thread-local that says which actor runs on this thread (if any), its tracer, and the
//! thread's managed id (`thread.id`). The refusal checks (`SelfAsk`, `WouldBlock`), the
//! self-send rule, the `send` span's tracer and shutdown all read it here.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::global::BoxedTracer;

use crate::info::ActorId;

impl ActorId {
    /// The actor whose thread is calling, if the caller runs on an actor thread.
    pub fn current() -> Option<ActorId> {
        actor()
    }
}

/// What this thread is.
struct Current {
    /// The actor running on this thread, if it is an actor thread.
    actor: Cell<Option<ActorId>>,
    /// That actor's tracer, when instrumentation is installed.
    tracer: RefCell<Option<Rc<BoxedTracer>>>,
    /// The managed `thread.id` (0 until first asked for on other threads).
    thread_id: Cell<u64>,
}

thread_local! {
    static CURRENT: Current = const {
        Current {
            actor: Cell::new(None),
            tracer: RefCell::new(None),
            thread_id: Cell::new(0),
        }
    };
}

/// Managed thread ids (`thread.id`), unique per process and never reused.
static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh managed thread id.
pub(crate) fn new_thread_id() -> u64 {
    NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed)
}

/// Marks this thread as the thread of actor `id`, with its managed thread id and tracer.
pub(crate) fn enter_actor(id: ActorId, thread_id: u64, tracer: Option<Rc<BoxedTracer>>) {
    CURRENT.with(|c| {
        c.actor.set(Some(id));
        c.thread_id.set(thread_id);
        *c.tracer.borrow_mut() = tracer;
    });
}

/// The actor whose thread this is, if any.
pub(crate) fn actor() -> Option<ActorId> {
    CURRENT.with(|c| c.actor.get())
}

/// The tracer of the actor whose thread this is, if it has one.
pub(crate) fn actor_tracer() -> Option<Rc<BoxedTracer>> {
    CURRENT.with(|c| c.tracer.borrow().clone())
}

/// The managed `thread.id` of this thread: the number an actor's spans carry, assigned on
/// first use for other threads.
pub(crate) fn thread_id() -> u64 {
    CURRENT.with(|c| {
        if c.thread_id.get() == 0 {
            c.thread_id.set(new_thread_id());
        }
        c.thread_id.get()
    })
}
