//! Adaptive spin-then-park. Waking a parked thread costs microseconds (tens on some VMs);
//! a short spin before parking, where the last wait was short, lets request/reply traffic
//! skip the wake-up. The CPU cost is bounded: at most the configured spin per idle period,
//! and only while waits keep coming back shorter than that spin.

use std::time::{Duration, Instant};

/// Default longest spin before parking (receive loop) or before awaiting a reply (ask).
pub(crate) const DEFAULT_SPIN: Duration = Duration::from_micros(20);

/// Spins until `ready()` or `limit` passes; says whether it became ready.
pub(crate) fn spin_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    if ready() {
        return true;
    }
    if limit.is_zero() {
        return false;
    }
    let start = Instant::now();
    let mut round = 0u32;
    loop {
        for _ in 0..16 {
            std::hint::spin_loop();
        }
        if ready() {
            return true;
        }
        round += 1;
        if round.is_multiple_of(8) && start.elapsed() >= limit {
            return false;
        }
    }
}

/// Whether an actor spins before its next park: only after serving asks (request/reply
/// traffic, where the next request follows the reply), and only while recent waits were
/// shorter than the spin. Streams of tells never spin: the actor parks and the next wake-up
/// takes a whole batch, and no spinning reader contends with the senders' writes.
#[derive(Debug)]
pub(crate) struct Adaptive {
    limit: Duration,
    spin_next: bool,
    after_asks: bool,
}

impl Adaptive {
    pub(crate) fn new(limit: Duration) -> Self {
        Adaptive {
            limit,
            spin_next: !limit.is_zero(),
            after_asks: false,
        }
    }

    /// How long to spin now (zero: park at once).
    pub(crate) fn spin(&self) -> Duration {
        if self.spin_next && self.after_asks {
            self.limit
        } else {
            Duration::ZERO
        }
    }

    /// Records how long a park lasted: a short one says spinning would have paid off.
    pub(crate) fn parked_for(&mut self, waited: Duration) {
        self.spin_next = !self.limit.is_zero() && waited <= self.limit;
    }

    /// Records that a spin ended with work: keep spinning.
    pub(crate) fn spin_paid_off(&mut self) {
        self.spin_next = !self.limit.is_zero();
    }

    /// Records whether the last batch held asks.
    pub(crate) fn served_asks(&mut self, asks: bool) {
        self.after_asks = asks;
    }

    /// Whether spinning is on at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.limit.is_zero()
    }
}
