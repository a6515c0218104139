//! [`Timestamp`]: the clock of the framework's own spans and of mailbox waits. It reads the
//! CPU's time stamp counter where it is usable (Linux on x86, calibrated by `fastant` when
//! the process starts, about 20 ms before `main`; elsewhere the system clock): about 12 ns
//! a reading against 40 for `SystemTime::now` on a VM, anchored once to the wall clock, as
//! fastrace does.
//!
//! Its times are the wall clock's as of the anchor: a process that runs for weeks while NTP
//! slews the wall clock can see its records drift from `SystemTime` by as much as NTP
//! corrected (microseconds a day on a disciplined host).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A moment in nanoseconds since the Unix epoch, read from the fast clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// The fast clock's anchor to the wall clock, taken on first use.
fn anchor() -> &'static fastant::Anchor {
    static ANCHOR: OnceLock<fastant::Anchor> = OnceLock::new();
    ANCHOR.get_or_init(fastant::Anchor::new)
}

impl Timestamp {
    /// Now.
    #[inline]
    pub fn now() -> Self {
        Timestamp(fastant::Instant::now().as_unix_nanos(anchor()))
    }

    /// The moment `time` (the epoch for times before it).
    pub fn from_system_time(time: SystemTime) -> Self {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> u64 {
        self.0
    }

    /// The same moment as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }

    /// The time from `earlier` to this moment (zero when `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_agrees_with_the_wall_clock_and_moves_forward() {
        let wall = SystemTime::now();
        let a = Timestamp::now();
        std::thread::sleep(Duration::from_millis(5));
        let b = Timestamp::now();
        let skew = a
            .to_system_time()
            .duration_since(wall)
            .unwrap_or_else(|e| e.duration());
        assert!(skew < Duration::from_millis(50), "{skew:?}");
        assert!(b.since(a) >= Duration::from_millis(5), "{:?}", b.since(a));
        assert_eq!(a.since(b), Duration::ZERO);
        assert_eq!(Timestamp::from_system_time(a.to_system_time()), a);
    }
}
