//! Span names and attribute values that cost no allocation and no shared reference count per
//! span. A span name must be a `Cow<'static, str>`; an owned `String` per span costs an
//! allocation on the actor's thread and a free on the export thread (measured: about 140 ns a
//! span), and an `Arc<str>` attribute costs two atomic operations on a counter that the actor's
//! thread and the export thread both touch. Names (`process <actor>`, `send <actor>`, the actor
//! name itself) are therefore interned once, up to a fixed number of distinct names, so memory
//! stays bounded even when actors with fresh names come and go; past the cap, they are owned
//! (span names) or reference-counted (attribute values) again.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Most distinct span names kept for the life of the process (about 30 bytes each).
pub(crate) const MAX_INTERNED_NAMES: usize = 4096;

/// A `'static` copy of `name`, shared by everyone asking for the same name, while fewer than
/// [`MAX_INTERNED_NAMES`] are kept; otherwise an owned copy.
pub(crate) fn intern(name: String) -> Cow<'static, str> {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(interned) = names.get(&name) {
        return Cow::Borrowed(interned);
    }
    if names.len() >= MAX_INTERNED_NAMES {
        return Cow::Owned(name);
    }
    let interned: &'static str = Box::leak(name.clone().into_boxed_str());
    names.insert(name, interned);
    Cow::Borrowed(interned)
}

/// An attribute value for `name`: the interned `'static` copy while the cap allows, else
/// the shared `Arc<str>`.
pub(crate) fn attribute_value(name: &std::sync::Arc<str>) -> opentelemetry::Value {
    match intern(name.to_string()) {
        Cow::Borrowed(interned) => opentelemetry::Value::from(interned),
        Cow::Owned(_) => opentelemetry::Value::from(name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_is_shared() {
        let a = intern("process same".into());
        let b = intern("process same".into());
        match (a, b) {
            (Cow::Borrowed(a), Cow::Borrowed(b)) => assert!(std::ptr::eq(a, b)),
            other => panic!("expected interned names, got {other:?}"),
        }
    }
}
