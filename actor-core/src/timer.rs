//! Ask timeouts that work from any caller: inside a tokio runtime its own timer is used;
//! elsewhere (plain executors) a small shared timer thread, started on first use.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Handle;

/// The timer runtime for callers outside any tokio runtime.
fn fallback_timer() -> &'static Handle {
    static TIMER: OnceLock<Handle> = OnceLock::new();
    TIMER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("actor-timer".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("a current-thread runtime with only a timer always builds");
                let _ = tx.send(rt.handle().clone());
                rt.block_on(std::future::pending::<()>());
            })
            .expect("the timer thread starts");
        rx.recv().expect("the timer thread sends its handle")
    })
}

/// Runs `fut` for at most `limit`.
pub(crate) async fn timeout<F: Future>(
    limit: Duration,
    fut: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    if Handle::try_current().is_ok() {
        tokio::time::timeout(limit, fut).await
    } else {
        let timed = {
            let _in_timer = fallback_timer().enter();
            tokio::time::timeout(limit, fut)
        };
        timed.await
    }
}
