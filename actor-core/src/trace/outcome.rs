//! [`Outcome`]: how one handler call ended, for its `process` span and for supervision.

use opentelemetry::Context;

use crate::reply::ReplyError;

/// How one handler call ended. One word: nothing in the common case (the handler returned
/// and its reply is not an error), so it comes back from the handler's future in registers
/// rather than through memory, once per message.
#[derive(Debug, Default)]
pub(crate) struct Outcome(Option<Box<Fault>>);

/// What went wrong in a handler call.
#[derive(Debug)]
enum Fault {
    /// The handler returned an error reply.
    Error(ReplyError),
    /// The handler panicked, with this text; with spans on, the failing message's context
    /// (its `process` span) is added once the span has ended.
    Panic(String, Option<Context>),
}

impl Outcome {
    /// The handler returned a reply: an error one (`Some`) or not.
    pub(crate) fn replied(error: Option<ReplyError>) -> Self {
        Outcome(error.map(|e| Box::new(Fault::Error(e))))
    }

    /// The handler panicked with `text`.
    pub(crate) fn panicked(text: String) -> Self {
        Outcome(Some(Box::new(Fault::Panic(text, None))))
    }

    /// The panic's text, if the handler panicked.
    pub(crate) fn panic(&self) -> Option<&str> {
        match self.0.as_deref() {
            Some(Fault::Panic(text, _)) => Some(text),
            _ => None,
        }
    }

    /// The error reply, if the handler returned one.
    pub(crate) fn error(&self) -> Option<&ReplyError> {
        match self.0.as_deref() {
            Some(Fault::Error(e)) => Some(e),
            _ => None,
        }
    }

    /// After a panic, keeps the failing message's context for supervision's decision
    /// (nothing otherwise).
    pub(crate) fn keep_panic_context(&mut self, cx: Context) {
        if let Some(Fault::Panic(_, context)) = self.0.as_deref_mut() {
            *context = Some(cx);
        }
    }

    /// The failing message's context kept after a panic, if any.
    pub(crate) fn into_panic_context(self) -> Option<Context> {
        match self.0.map(|fault| *fault) {
            Some(Fault::Panic(_, context)) => context,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_one_word() {
        assert_eq!(std::mem::size_of::<Outcome>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn a_panic_keeps_its_text_and_context_and_an_error_reply_is_no_panic() {
        let mut panicked = Outcome::panicked("boom".into());
        assert_eq!(panicked.panic(), Some("boom"));
        assert!(panicked.error().is_none());
        panicked.keep_panic_context(Context::new());
        assert!(panicked.into_panic_context().is_some());

        let mut failed = Outcome::replied(Some(ReplyError {
            error_type: "E",
            message: "no".into(),
        }));
        assert_eq!(failed.error().map(|e| e.message.as_str()), Some("no"));
        assert!(failed.panic().is_none());
        failed.keep_panic_context(Context::new());
        assert!(
            failed.into_panic_context().is_none(),
            "only a panic keeps one"
        );

        let fine = Outcome::replied(None);
        assert!(fine.panic().is_none() && fine.error().is_none());
    }
}
