//! Peer actor frameworks running the same workloads as ours, each with its default settings.

/// actix 0.13: actors on one `System` thread; default mailbox (16, `do_send` ignores it).
pub mod actix;
/// kameo 0.22: actors are tokio tasks; default bounded mailbox (64); tell waits for room.
pub mod kameo;
/// ractor 0.16: actors are tokio tasks; unbounded mailbox; `cast` / `call!`.
pub mod ractor;
