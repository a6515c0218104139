//! Ask timeouts that work from any caller: inside a tokio runtime its own timer is used;
//! elsewhere (plain executors) a small shared timer thread, started on first use.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::Handle;

/// The timer runtime for callers outside any tokio runtime, or `None` if its thread
/// could not start.
fn fallback_timer() -> Option<&'static Handle> {
    static TIMER: OnceLock<Option<Handle>> = OnceLock::new();
    TIMER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("actor-timer".into())
                .spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                    else {
                        return;
                    };
                    let _ = tx.send(rt.handle().clone());
                    rt.block_on(std::future::pending::<()>());
                })
                .ok()?;
            rx.recv().ok()
        })
        .as_ref()
}

/// Polls the inner future inside a runtime's context, so its timers register there.
#[pin_project::pin_project]
struct InRuntime<F> {
    handle: &'static Handle,
    #[pin]
    inner: F,
}

impl<F: Future> Future for InRuntime<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _in_runtime = this.handle.enter();
        this.inner.poll(cx)
    }
}

/// Runs `fut` for at most `limit`; `Err` when the time ran out.
pub(crate) async fn timeout<F: Future>(limit: Duration, fut: F) -> Result<F::Output, ()> {
    if Handle::try_current().is_ok() {
        return tokio::time::timeout(limit, fut).await.map_err(drop);
    }
    match fallback_timer() {
        Some(handle) => {
            let timed = {
                let _in_runtime = handle.enter();
                tokio::time::timeout(limit, fut)
            };
            InRuntime {
                handle,
                inner: timed,
            }
            .await
            .map_err(drop)
        }
        // No timer to be had: wait without one rather than fail the ask.
        None => Ok(fut.await),
    }
}
