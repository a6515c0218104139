//! Names: the one a message type has on the wire (`Actor-Message-Type`), and those this
//! crate's telemetry carries.

/// `messaging.system` on the spans of NATS-delivered messages.
pub const MESSAGING_SYSTEM_NATS: &str = "nats";
/// The instrumentation scope of the caller's `send` spans.
pub const SCOPE: &str = "actor-nats";

/// The default wire name of `M`: its Rust type name without the module path
/// (`app::msgs::Add` is `Add`; `Wrap<app::Item>` is `Wrap<Item>`). Other languages send
/// this name; choose another with `RemoteRecipient::message_type` and
/// `ServeBuilder::handle_as`.
pub fn message_type_name<M>() -> &'static str {
    short(std::any::type_name::<M>())
}

/// `full` without module paths, interned so the same `&'static str` comes back.
fn short(full: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(name) = names.get(full) {
        return name;
    }
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    // One leaked string per distinct message type, kept for the life of the process.
    let name: &'static str = Box::leak(out.into_boxed_str());
    names.insert(full, name);
    name
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn module_paths_are_dropped() {
        assert_eq!(short("app::msgs::Add"), "Add");
        assert_eq!(short("Add"), "Add");
        assert_eq!(short("app::Wrap<app::Item, u8>"), "Wrap<Item, u8>");
        assert!(std::ptr::eq(short("x::Y"), short("x::Y")));
    }
}
