//! Adaptive spin-then-park. Waking a parked thread costs microseconds (tens on some VMs);
//! a short spin before parking, where the last wait was short, lets request/reply traffic
//! skip the wake-up. The CPU cost is bounded: at most the configured spin per idle period,
//! and only while waits keep coming back shorter than that spin, plus a rare longer probe
//! ([`AskSpin`]) that finds out whether spinning would pay off again.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Default longest spin before parking (receive loop) or before awaiting a reply (ask).
pub(crate) const DEFAULT_SPIN: Duration = Duration::from_micros(20);

/// A probe spins this many times the configured spin: long enough to outlast the wake-up
/// of a parked actor on a slow VM (tens of µs), so that both sides are awake afterwards.
const PROBE_FACTOR: u32 = 10;

/// Asks between probes after the first failed probe; doubled after each further one.
const FIRST_PROBE_GAP: u32 = 16;

/// The longest gap between probes, in asks.
const LAST_PROBE_GAP: u32 = 1024;

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

    /// How long to spin now (zero: park at once). An asker probing for a reply (see
    /// [`AskSpin`]) makes the actor spin after serving it even when its last wait was long:
    /// that is how both sides find their way back to spinning.
    pub(crate) fn spin(&self, asks: &AskSpin) -> Duration {
        if self.after_asks && (self.spin_next || asks.probing()) {
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

/// Whether asks to one actor spin for their replies: shared by its askers (through the
/// actor's cell) and read by its receive loop.
///
/// An ask spins while replies keep arriving within the spin. Once one does not, the next ask
/// probes: it spins [`PROBE_FACTOR`] times longer, and the actor spins after serving it. A
/// probe whose reply comes in time turns spinning back on; after a failed one, asks await
/// their replies and probe again after [`FIRST_PROBE_GAP`] asks, twice as many after each
/// further failure (up to [`LAST_PROBE_GAP`]). A
/// round trip measured without spinning includes the wake-ups that spinning avoids, so it
/// cannot tell by itself whether spinning would pay: on a VM whose wake-ups take tens of
/// µs, asks would otherwise stay slow for good after the first one.
#[derive(Debug)]
pub(crate) struct AskSpin {
    limit: Duration,
    on: AtomicBool,
    probing: AtomicBool,
    /// Asks left before the next probe, while spinning is off.
    countdown: AtomicU32,
    /// The current gap between probes, in asks.
    gap: AtomicU32,
}

/// How an ask waits for its reply: [`AskSpin::begin`]'s answer, for [`AskSpin::end`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AskWait {
    /// Await the reply at once.
    Await,
    /// Spin this long for it first.
    Spin(Duration),
    /// Spin this long for it first, to see whether spinning pays off again.
    Probe(Duration),
}

impl AskWait {
    /// How long to spin for the reply.
    pub(crate) fn spin(self) -> Duration {
        match self {
            AskWait::Await => Duration::ZERO,
            AskWait::Spin(limit) | AskWait::Probe(limit) => limit,
        }
    }
}

impl AskSpin {
    /// Asks spin up to `limit` (zero: never).
    pub(crate) fn new(limit: Duration) -> Self {
        AskSpin {
            limit,
            on: AtomicBool::new(!limit.is_zero()),
            probing: AtomicBool::new(false),
            countdown: AtomicU32::new(FIRST_PROBE_GAP),
            gap: AtomicU32::new(FIRST_PROBE_GAP),
        }
    }

    /// How the next ask waits for its reply.
    pub(crate) fn begin(&self) -> AskWait {
        if self.limit.is_zero() {
            return AskWait::Await;
        }
        if self.on.load(Ordering::Relaxed) {
            return AskWait::Spin(self.limit);
        }
        // Several askers may race here: the count is a pacing, not an exact budget.
        let left = self.countdown.load(Ordering::Relaxed);
        if left > 1 {
            self.countdown.store(left - 1, Ordering::Relaxed);
            return AskWait::Await;
        }
        self.probing.store(true, Ordering::Relaxed);
        AskWait::Probe(self.limit.saturating_mul(PROBE_FACTOR))
    }

    /// Records how the ask that `begin` answered `wait` went: whether its reply came
    /// while it spun.
    pub(crate) fn end(&self, wait: AskWait, in_time: bool) {
        let gap = match wait {
            AskWait::Await => return,
            AskWait::Spin(_) | AskWait::Probe(_) if in_time => {
                set(&self.on, true);
                if let AskWait::Probe(_) = wait {
                    self.gap.store(FIRST_PROBE_GAP, Ordering::Relaxed);
                    self.probing.store(false, Ordering::Relaxed);
                }
                return;
            }
            // A spin that just missed (a descheduled vCPU, one slow handler): probe at once.
            AskWait::Spin(_) => 1,
            AskWait::Probe(_) => {
                self.probing.store(false, Ordering::Relaxed);
                self.gap
                    .load(Ordering::Relaxed)
                    .saturating_mul(2)
                    .clamp(FIRST_PROBE_GAP, LAST_PROBE_GAP)
            }
        };
        set(&self.on, false);
        self.gap.store(gap, Ordering::Relaxed);
        self.countdown.store(gap, Ordering::Relaxed);
    }

    /// Whether an asker is probing now: the actor should spin after serving it.
    pub(crate) fn probing(&self) -> bool {
        self.probing.load(Ordering::Relaxed)
    }
}

/// Stores `value` only if it changes: askers on other threads read the flag on every ask,
/// and a store would take its cache line from them each time.
fn set(flag: &AtomicBool, value: bool) {
    if flag.load(Ordering::Relaxed) != value {
        flag.store(value, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_micros(20);

    /// Asks until the next probe; returns how many awaited without spinning first.
    fn until_probe(spin: &AskSpin) -> (u32, AskWait) {
        let mut awaited = 0;
        loop {
            match spin.begin() {
                AskWait::Await => {
                    spin.end(AskWait::Await, false);
                    awaited += 1;
                }
                wait => return (awaited, wait),
            }
        }
    }

    #[test]
    fn asks_spin_while_replies_come_in_time() {
        let spin = AskSpin::new(LIMIT);
        for _ in 0..100 {
            let wait = spin.begin();
            assert_eq!(wait, AskWait::Spin(LIMIT));
            spin.end(wait, true);
        }
        assert!(!spin.probing());
    }

    #[test]
    fn a_late_reply_stops_spinning_until_a_probe_brings_it_back() {
        let spin = AskSpin::new(LIMIT);
        let wait = spin.begin();
        spin.end(wait, false);
        let (awaited, probe) = until_probe(&spin);
        assert_eq!(awaited, 0, "one late reply: the next ask probes");
        assert_eq!(probe, AskWait::Probe(LIMIT * PROBE_FACTOR));
        assert!(spin.probing(), "the actor spins after serving a probe");
        spin.end(probe, true);
        assert!(!spin.probing());
        assert_eq!(spin.begin(), AskWait::Spin(LIMIT), "the probe paid off");
    }

    #[test]
    fn failed_probes_come_ever_more_rarely() {
        let spin = AskSpin::new(LIMIT);
        let wait = spin.begin();
        spin.end(wait, false);
        let probe = spin.begin();
        assert_eq!(probe, AskWait::Probe(LIMIT * PROBE_FACTOR));
        spin.end(probe, false);
        let mut gaps = Vec::new();
        for _ in 0..8 {
            let (awaited, probe) = until_probe(&spin);
            gaps.push(awaited + 1);
            spin.end(probe, false);
            assert!(!spin.probing());
        }
        assert_eq!(gaps, [16, 32, 64, 128, 256, 512, 1024, 1024]);
    }

    #[test]
    fn no_spin_and_no_probe_when_turned_off() {
        let spin = AskSpin::new(Duration::ZERO);
        for _ in 0..2000 {
            assert_eq!(spin.begin(), AskWait::Await);
            spin.end(AskWait::Await, false);
        }
        assert!(!spin.probing());
    }
}
