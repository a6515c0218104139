//! Adaptive spin-then-park. Waking a parked thread costs microseconds (tens on some VMs);
//! a short spin before parking, where the last wait was short, lets request/reply traffic
//! skip the wake-up. The CPU cost is bounded: at most the configured spin per idle period,
//! and only while waits keep coming back shorter than that spin, plus a longer probe after
//! a late reply, ever rarer while probes miss ([`AskSpin`]), that finds out whether
//! spinning would pay off again.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Default longest spin before parking (receive loop) or before awaiting a reply (ask).
pub(crate) const DEFAULT_SPIN: Duration = Duration::from_micros(20);

/// A probe spins this much longer than the configured spin: long enough to outlast the
/// wake-up of a parked actor on a slow VM (tens of µs), so that both sides are awake
/// afterwards, and bounded for an asker that shares its thread with other tasks.
const PROBE_EXTRA: Duration = Duration::from_micros(100);

/// Asks between probes after a first miss; doubled after each further one.
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
/// shorter than the spin or an asker is probing ([`AskSpin`]). Streams of tells never spin: the actor parks and the next wake-up
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
/// probes: it spins [`PROBE_EXTRA`] longer, and the actor spins after serving it. If the
/// probe's reply comes while it spins, asks spin again, and the first of them confirms it:
/// if its reply comes within the spin, both sides are back to spinning. A failed probe or
/// confirmation is a miss: asks then await their replies and probe again after
/// [`FIRST_PROBE_GAP`] asks, twice as many after each further miss (up to
/// [`LAST_PROBE_GAP`]). A round trip measured without spinning includes the wake-ups that
/// spinning avoids, so it cannot tell by itself whether spinning would pay: on a VM whose
/// wake-ups take tens of µs, asks would otherwise stay slow for good after the first one.
#[derive(Debug)]
pub(crate) struct AskSpin {
    limit: Duration,
    /// Asks spin for their replies.
    on: AtomicBool,
    /// An asker is probing: the actor spins after serving it.
    probing: AtomicBool,
    /// A probe paid off; the next spinning ask confirms it.
    confirming: AtomicBool,
    /// Asks left before the next probe, while spinning is off.
    countdown: AtomicU32,
    /// Probes and confirmations missed in a row.
    misses: AtomicU32,
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
            confirming: AtomicBool::new(false),
            countdown: AtomicU32::new(0),
            misses: AtomicU32::new(0),
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
        AskWait::Probe(self.limit.saturating_add(PROBE_EXTRA))
    }

    /// Records how the ask that `begin` answered `wait` went: whether its reply came
    /// while it spun.
    pub(crate) fn end(&self, wait: AskWait, in_time: bool) {
        match (wait, in_time) {
            (AskWait::Await, _) => {}
            (AskWait::Spin(_), true) => {
                if self.confirming.load(Ordering::Relaxed) {
                    self.confirming.store(false, Ordering::Relaxed);
                    self.misses.store(0, Ordering::Relaxed);
                }
            }
            (AskWait::Spin(_), false) => {
                if self.confirming.load(Ordering::Relaxed) {
                    self.confirming.store(false, Ordering::Relaxed);
                    self.missed();
                } else {
                    // Spinning had paid off until now (a descheduled vCPU, one slow
                    // handler): probe at once.
                    self.stop(1);
                }
            }
            (AskWait::Probe(_), true) => {
                self.probing.store(false, Ordering::Relaxed);
                self.confirming.store(true, Ordering::Relaxed);
                set(&self.on, true);
            }
            (AskWait::Probe(_), false) => {
                self.probing.store(false, Ordering::Relaxed);
                self.missed();
            }
        }
    }

    /// Forgets an ask that could not be sent: it says nothing about replies (a probe stays
    /// due for the next ask).
    pub(crate) fn abandon(&self, wait: AskWait) {
        if let AskWait::Probe(_) = wait {
            self.probing.store(false, Ordering::Relaxed);
        }
    }

    /// Whether an asker is probing now: the actor should spin after serving it.
    pub(crate) fn probing(&self) -> bool {
        self.probing.load(Ordering::Relaxed)
    }

    /// A probe or its confirmation missed: wait longer before the next probe.
    fn missed(&self) {
        let misses = self.misses.load(Ordering::Relaxed);
        self.misses
            .store(misses.saturating_add(1), Ordering::Relaxed);
        let gap = FIRST_PROBE_GAP
            .saturating_mul(1 << misses.min(LAST_PROBE_GAP.ilog2()))
            .min(LAST_PROBE_GAP);
        self.stop(gap);
    }

    /// Asks await their replies, and the one `gap` asks on probes.
    fn stop(&self, gap: u32) {
        set(&self.on, false);
        self.countdown.store(gap, Ordering::Relaxed);
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
    const PROBE: AskWait = AskWait::Probe(Duration::from_micros(120));

    /// Asks until the next probe; returns how many awaited without spinning first.
    fn until_probe(spin: &AskSpin) -> u32 {
        let mut awaited = 0;
        loop {
            match spin.begin() {
                AskWait::Await => {
                    spin.end(AskWait::Await, false);
                    awaited += 1;
                }
                wait => {
                    assert_eq!(wait, PROBE);
                    assert!(spin.probing(), "the actor spins after serving a probe");
                    return awaited;
                }
            }
        }
    }

    /// One ask: how `begin` answered, after `end` heard whether the reply was in time.
    fn ask(spin: &AskSpin, in_time: bool) -> AskWait {
        let wait = spin.begin();
        spin.end(wait, in_time);
        wait
    }

    #[test]
    fn asks_spin_while_replies_come_in_time() {
        let spin = AskSpin::new(LIMIT);
        for _ in 0..100 {
            assert_eq!(ask(&spin, true), AskWait::Spin(LIMIT));
        }
        assert!(!spin.probing());
    }

    #[test]
    fn a_late_reply_makes_the_next_ask_probe_and_a_confirmed_probe_brings_spinning_back() {
        let spin = AskSpin::new(LIMIT);
        ask(&spin, false);
        assert_eq!(until_probe(&spin), 0, "one late reply: the next ask probes");
        spin.end(PROBE, true);
        assert!(!spin.probing());
        assert_eq!(ask(&spin, true), AskWait::Spin(LIMIT), "the confirmation");
        // Confirmed: the next late reply makes the next ask probe again at once.
        ask(&spin, false);
        assert_eq!(until_probe(&spin), 0);
    }

    #[test]
    fn a_probe_whose_confirmation_misses_counts_as_a_miss() {
        // As for an actor that parks between asks: the probe outlasts its wake-up, a
        // plain spin does not.
        let spin = AskSpin::new(LIMIT);
        ask(&spin, false);
        let mut gaps = Vec::new();
        for _ in 0..3 {
            gaps.push(until_probe(&spin) + 1);
            spin.end(PROBE, true);
            assert_eq!(ask(&spin, false), AskWait::Spin(LIMIT));
        }
        assert_eq!(gaps, [1, 16, 32]);
    }

    #[test]
    fn missed_probes_come_ever_more_rarely() {
        let spin = AskSpin::new(LIMIT);
        ask(&spin, false);
        let mut gaps = Vec::new();
        for _ in 0..9 {
            gaps.push(until_probe(&spin) + 1);
            spin.end(PROBE, false);
            assert!(!spin.probing());
        }
        assert_eq!(gaps, [1, 16, 32, 64, 128, 256, 512, 1024, 1024]);
    }

    #[test]
    fn an_ask_that_could_not_be_sent_changes_nothing() {
        let spin = AskSpin::new(LIMIT);
        let wait = spin.begin();
        spin.abandon(wait);
        assert_eq!(spin.begin(), AskWait::Spin(LIMIT), "still spinning");
        spin.end(AskWait::Spin(LIMIT), false);
        assert_eq!(until_probe(&spin), 0);
        spin.abandon(PROBE);
        assert!(
            !spin.probing(),
            "the actor does not wait for a probe never sent"
        );
        assert_eq!(until_probe(&spin), 0, "the probe is still due");
    }

    #[test]
    fn no_spin_and_no_probe_when_turned_off() {
        let spin = AskSpin::new(Duration::ZERO);
        for _ in 0..2000 {
            assert_eq!(ask(&spin, false), AskWait::Await);
        }
        assert!(!spin.probing());
    }
}
