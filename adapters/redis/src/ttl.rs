//! TTLs as Redis wants them: whole milliseconds, at least 1, at most a century.

use std::time::Duration;

/// The longest expiry handed to Redis (`PX` rejects values that overflow its clock).
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// `d` in milliseconds for `PX`/`PEXPIRE`: rounded up so that a sub-millisecond TTL still
/// expires rather than failing, and capped at a century.
pub(crate) fn px(d: Duration) -> u64 {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let ms = if Duration::from_millis(ms) < d { ms.saturating_add(1) } else { ms };
    ms.clamp(1, MAX_TTL_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_millisecond_ttls_round_up() {
        assert_eq!(px(Duration::from_micros(1)), 1);
        assert_eq!(px(Duration::from_micros(1500)), 2);
        assert_eq!(px(Duration::from_secs(1)), 1000);
    }

    #[test]
    fn huge_ttls_are_capped() {
        assert_eq!(px(Duration::MAX), MAX_TTL_MS);
    }
}
