//! A map whose entries may carry an expiry time: expired entries are invisible and are
//! removed when touched, and swept now and then so that the map cannot grow without bound.

use chrono::{DateTime, Utc};
use std::{collections::HashMap, hash::Hash};

/// A value and when it stops existing (`None`: never).
#[derive(Debug)]
pub(crate) struct Expiring<V> {
    pub(crate) value: V,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

impl<V> Expiring<V> {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

/// The map; every method takes the current time.
#[derive(Debug)]
pub(crate) struct ExpiringMap<K, V> {
    entries: HashMap<K, Expiring<V>>,
    /// The size at which the next sweep runs (doubles with the live size: amortised O(1)).
    sweep_at: usize,
}

const MIN_SWEEP_AT: usize = 64;

impl<K: Eq + Hash, V> Default for ExpiringMap<K, V> {
    fn default() -> Self {
        Self { entries: HashMap::new(), sweep_at: MIN_SWEEP_AT }
    }
}

impl<K: Eq + Hash, V> ExpiringMap<K, V> {
    /// The live entry under `k`, if any (an expired one is dropped).
    pub(crate) fn get_mut(&mut self, k: &K, now: DateTime<Utc>) -> Option<&mut Expiring<V>> {
        if self.entries.get(k).is_some_and(|e| !e.live(now)) {
            self.entries.remove(k);
        }
        self.entries.get_mut(k)
    }

    pub(crate) fn get(&mut self, k: &K, now: DateTime<Utc>) -> Option<&V> {
        self.get_mut(k, now).map(|e| &e.value)
    }

    /// Stores `value` under `k`, replacing what was there.
    pub(crate) fn insert(&mut self, k: K, value: V, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        self.entries.insert(k, Expiring { value, expires_at });
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, e| e.live(now));
            self.sweep_at = (self.entries.len() * 2).max(MIN_SWEEP_AT);
        }
    }

    /// Removes the entry; returns its value if it was live.
    pub(crate) fn remove(&mut self, k: &K, now: DateTime<Utc>) -> Option<V> {
        self.entries.remove(k).filter(|e| e.live(now)).map(|e| e.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn an_expired_entry_is_invisible() {
        let now = Utc::now();
        let mut m = ExpiringMap::default();
        m.insert("k", 1, Some(now + TimeDelta::seconds(1)), now);
        assert_eq!(m.get(&"k", now).copied(), Some(1));
        assert_eq!(m.get(&"k", now + TimeDelta::seconds(1)), None);
    }

    #[test]
    fn sweeping_keeps_the_map_bounded_by_its_live_entries() {
        let now = Utc::now();
        let mut m = ExpiringMap::default();
        for i in 0..10_000 {
            let t = now + TimeDelta::milliseconds(i);
            m.insert(i, (), Some(t + TimeDelta::milliseconds(1)), t);
        }
        assert!(m.entries.len() < 2 * MIN_SWEEP_AT, "{} entries kept", m.entries.len());
    }
}
