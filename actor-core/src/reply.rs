//! [`Reply`]: what a handler returns, and whether that counts as an error for tracing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// A handler's reply. A reply that reports an error (an `Err` of a `Result`) marks the
/// handler's `process` span with status Error and an exception event.
///
/// Implemented for `Result`, `Option`, the primitive types, strings and the usual
/// collections. For your own reply type add one line: `impl Reply for MyReply {}`.
pub trait Reply: Send + 'static {
    /// The error this reply carries, if any: its `error.type` and message end up on the span.
    fn error(&self) -> Option<ReplyError> {
        None
    }
}

/// The error part of a [`Reply`], as recorded on the handler's span: its `error.type` and
/// its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ReplyError {
    /// A short type name for `error.type` (the Rust type of the error).
    pub error_type: &'static str,
    /// The error's `Display` text.
    pub message: String,
}

impl<T: Send + 'static, E: std::fmt::Display + Send + 'static> Reply for Result<T, E> {
    fn error(&self) -> Option<ReplyError> {
        self.as_ref().err().map(|e| ReplyError {
            error_type: std::any::type_name::<E>(),
            message: e.to_string(),
        })
    }
}

macro_rules! plain_reply {
    ($($t:ty),* $(,)?) => { $(impl Reply for $t {})* };
}

plain_reply!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str,
    std::time::Duration,
    std::time::Instant,
    std::time::SystemTime,
);

impl<T: Send + 'static> Reply for Option<T> {}
impl<T: Send + 'static> Reply for Vec<T> {}
impl<T: Send + 'static> Reply for VecDeque<T> {}
impl<T: Send + 'static> Reply for Box<T> {}
impl<T: Send + Sync + 'static> Reply for Arc<T> {}
impl<K: Send + 'static, V: Send + 'static, S: Send + 'static> Reply for HashMap<K, V, S> {}
impl<K: Send + 'static, S: Send + 'static> Reply for HashSet<K, S> {}
impl<K: Send + 'static, V: Send + 'static> Reply for BTreeMap<K, V> {}
impl<A: Send + 'static, B: Send + 'static> Reply for (A, B) {}
impl<A: Send + 'static, B: Send + 'static, C: Send + 'static> Reply for (A, B, C) {}
