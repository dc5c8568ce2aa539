//! Failed logins per client address: after too many in a window, that address must wait for
//! the window to pass (guessing the admin's password stays slow even without a proxy).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Failures allowed per window.
pub const MAX_FAILURES: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(300);

/// Failures per address: how many, since when.
type Failures = HashMap<Option<IpAddr>, (u32, Instant)>;

#[derive(Debug, Clone, Default)]
pub struct LoginThrottle {
    failures: Arc<Mutex<Failures>>,
}

impl LoginThrottle {
    /// How long `ip` must wait before trying again, if it must.
    pub fn wait(&self, ip: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (n, since) = map.get(&ip)?;
        let left = WINDOW.checked_sub(now.duration_since(*since))?;
        (*n >= MAX_FAILURES && !left.is_zero()).then_some(left)
    }

    /// Notes a failed login of `ip`.
    pub fn failed(&self, ip: Option<IpAddr>, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        let entry = map.entry(ip).or_insert((0, now));
        entry.0 += 1;
    }

    /// Forgets `ip`'s failures after a successful login.
    pub fn succeeded(&self, ip: Option<IpAddr>) {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn an_address_waits_after_too_many_failures() {
        let (t, now) = (LoginThrottle::default(), Instant::now());
        for _ in 0..MAX_FAILURES - 1 {
            t.failed(IP, now);
        }
        assert_eq!(t.wait(IP, now), None);
        t.failed(IP, now);
        assert!(t.wait(IP, now).is_some());
    }

    #[test]
    fn the_wait_ends_with_the_window() {
        let (t, now) = (LoginThrottle::default(), Instant::now());
        for _ in 0..MAX_FAILURES {
            t.failed(IP, now);
        }
        assert_eq!(t.wait(IP, now + WINDOW), None);
    }

    #[test]
    fn other_addresses_are_not_affected() {
        let (t, now) = (LoginThrottle::default(), Instant::now());
        for _ in 0..MAX_FAILURES {
            t.failed(IP, now);
        }
        assert_eq!(t.wait(None, now), None);
    }
}
