//! Supervision trees: children spawned by an actor ([`ctx`]: `Ctx::spawn_child`), the
//! parent's [`strategy`] for their failures, and each actor's [`node`] in the tree. The
//! receive loop applies the decisions (`actor_thread/receive.rs`, `restart.rs`).

pub(crate) mod ctx;
pub(crate) mod node;
pub(crate) mod strategy;
