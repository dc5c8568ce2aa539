//! When to run a task again after a failure: exponential backoff with a cap and jitter.

use rand::Rng;
use std::time::Duration;

/// Retry delays: `base · 2^retries`, at most `cap`, then scaled by a random factor in
/// `[1 - jitter, 1]` so that many tasks failing together do not come back together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub cap: Duration,
    /// 0.0 (none) ..= 1.0.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { cap: Duration::from_secs(3600), jitter: 0.5 }
    }
}

impl Backoff {
    /// The bounds of the delay before retry number `retries + 1`.
    pub fn bounds(&self, base: Duration, retries: u32) -> (Duration, Duration) {
        let exp = base.saturating_mul(1u32.checked_shl(retries.min(31)).unwrap_or(u32::MAX));
        let hi = exp.min(self.cap);
        let lo = hi.mul_f64(1.0 - self.jitter.clamp(0.0, 1.0));
        (lo, hi)
    }

    /// A delay within [`Self::bounds`].
    pub fn delay(&self, base: Duration, retries: u32) -> Duration {
        let (lo, hi) = self.bounds(base, retries);
        if hi <= lo {
            return hi;
        }
        let span = (hi - lo).as_micros() as u64;
        lo + Duration::from_micros(rand::rng().random_range(0..=span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_within_jitter_bounds() {
        let b = Backoff { cap: Duration::from_secs(300), jitter: 0.5 };
        let base = Duration::from_secs(60);
        assert_eq!(b.bounds(base, 0), (Duration::from_secs(30), Duration::from_secs(60)));
        assert_eq!(b.bounds(base, 1), (Duration::from_secs(60), Duration::from_secs(120)));
        assert_eq!(b.bounds(base, 3), (Duration::from_secs(150), Duration::from_secs(300)));
        assert_eq!(b.bounds(base, 40).1, Duration::from_secs(300));
        for retries in 0..6 {
            let (lo, hi) = b.bounds(base, retries);
            for _ in 0..200 {
                let d = b.delay(base, retries);
                assert!(d >= lo && d <= hi, "{d:?} outside {lo:?}..={hi:?}");
            }
        }
    }

    #[test]
    fn no_jitter_gives_the_exact_delay() {
        let b = Backoff { cap: Duration::from_secs(3600), jitter: 0.0 };
        assert_eq!(b.delay(Duration::from_secs(60), 2), Duration::from_secs(240));
    }
}
