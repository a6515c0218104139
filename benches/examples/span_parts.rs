//! What each part of a span costs in `opentelemetry_sdk` alone: spans started and ended on
//! this thread, batched by the SDK's `BatchSpanProcessor` into a no-op exporter, with 0–8
//! static attributes and with or without a link. CPU time of every thread per span.
//!
//! ```text
//! cargo run --release -p actor-benches --example span_parts
//! ```
//!
//! With glibc the step from 2 to 3 attributes is the largest: the attribute vector then
//! outgrows glibc's "fastbin" sizes (up to 128 bytes), and freeing it on the export thread,
//! not the thread that allocated it, takes the allocating thread's arena lock.

fn main() {
    println!("| attributes | link | CPU per span (ns) |");
    println!("|---:|---|---:|");
    for (attributes, link) in [
        (0, false),
        (2, false),
        (3, false),
        (8, false),
        (0, true),
        (2, true),
        (8, true),
    ] {
        let ns = actor_benches::sdk_span_floor_ns(300_000, attributes, link);
        let link = if link { "yes" } else { "no" };
        println!("| {attributes} | {link} | {ns:.0} |");
    }
}
