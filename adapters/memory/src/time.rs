//! Clock arithmetic between chrono instants and std durations, saturating instead of panicking.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// `t + d`, or the latest representable instant if that overflows.
pub(crate) fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d).ok().and_then(|d| t.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How long from `from` until `to`; zero if `to` is not later.
pub(crate) fn until(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// The tokio instant `d` from now, or about a year away if that overflows.
pub(crate) fn deadline_in(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}
