//! [`InContext`]: a future polled with a given OpenTelemetry context active.

use opentelemetry::Context;

/// Runs a future with `cx` as the active context on every poll, like
/// `opentelemetry::context::FutureExt::with_context`, but moves the context in on the first
/// poll instead of cloning it: a handler that finishes in one poll costs no extra reference
/// count traffic on a context that the sender's thread is also touching.
#[pin_project::pin_project]
pub(crate) struct InContext<F> {
    #[pin]
    inner: F,
    cx: Option<Context>,
}

impl<F> InContext<F> {
    /// Wraps `inner` so `cx` is the active context whenever it is polled.
    pub(crate) fn new(inner: F, cx: Context) -> Self {
        InContext {
            inner,
            cx: Some(cx),
        }
    }
}

impl<F: std::future::Future> std::future::Future for InContext<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        task: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        let cx = this.cx.take().unwrap_or_default();
        let _active = cx.attach();
        let poll = this.inner.poll(task);
        if poll.is_pending() {
            // Keep it for the next poll (the guard still holds it as the current one).
            *this.cx = Some(Context::current());
        }
        poll
    }
}
