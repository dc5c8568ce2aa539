//! Sessions in memory: keyed by the token's SHA-256 (never the token), with a per-user index
//! for `revoke_all`; expiry by the clock.

use async_trait::async_trait;
use goodrobot_domain::UserId;
use goodrobot_ports::{Clock, Session, SessionError, SessionStore, SessionToken, TokenHash};
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{expiring::ExpiringMap, lock::lock, time::after};

/// Past this many entries in a user's index, `create` drops those of ended sessions.
const PRUNE_AT: usize = 64;

#[derive(Debug, Default)]
struct Sessions {
    by_hash: ExpiringMap<TokenHash, Session>,
    /// A user's session hashes; entries of ended sessions are dropped by `revoke_all`.
    by_user: HashMap<UserId, HashSet<TokenHash>>,
}

/// [`SessionStore`] over maps behind one lock.
pub struct MemorySessionStore {
    clock: Arc<dyn Clock>,
    sessions: Mutex<Sessions>,
}

impl MemorySessionStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, sessions: Mutex::new(Sessions::default()) }
    }
}

impl std::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionStore").finish_non_exhaustive()
    }
}

fn check_ttl(ttl: Duration) -> Result<(), SessionError> {
    if ttl.is_zero() { Err(SessionError::Invalid("ttl must be positive".to_owned())) } else { Ok(()) }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, user_id: UserId, ttl: Duration) -> Result<(SessionToken, Session), SessionError> {
        check_ttl(ttl)?;
        let token = SessionToken::generate();
        let hash = token.hash();
        let now = self.clock.now();
        let session = Session { user_id, created_at: now, expires_at: after(now, ttl) };
        let mut s = lock(&self.sessions);
        let Sessions { by_hash, by_user } = &mut *s;
        by_hash.insert(hash, session, Some(session.expires_at), now);
        let mine = by_user.entry(user_id).or_default();
        mine.insert(hash);
        if mine.len() > PRUNE_AT {
            mine.retain(|h| by_hash.get(h, now).is_some());
        }
        Ok((token, session))
    }

    async fn get(&self, token: &SessionToken) -> Result<Option<Session>, SessionError> {
        Ok(lock(&self.sessions).by_hash.get(&token.hash(), self.clock.now()).copied())
    }

    async fn touch(&self, token: &SessionToken, ttl: Duration) -> Result<Option<Session>, SessionError> {
        check_ttl(ttl)?;
        let now = self.clock.now();
        let mut s = lock(&self.sessions);
        let Some(entry) = s.by_hash.get_mut(&token.hash(), now) else { return Ok(None) };
        entry.value.expires_at = after(now, ttl);
        entry.expires_at = Some(entry.value.expires_at);
        Ok(Some(entry.value))
    }

    async fn revoke(&self, token: &SessionToken) -> Result<bool, SessionError> {
        let hash = token.hash();
        let mut s = lock(&self.sessions);
        let Some(session) = s.by_hash.remove(&hash, self.clock.now()) else { return Ok(false) };
        if let Some(mine) = s.by_user.get_mut(&session.user_id) {
            mine.remove(&hash);
        }
        Ok(true)
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<u64, SessionError> {
        let now = self.clock.now();
        let mut s = lock(&self.sessions);
        let Some(mine) = s.by_user.remove(&user_id) else { return Ok(0) };
        Ok(mine.iter().filter(|h| s.by_hash.remove(h, now).is_some()).count() as u64)
    }
}
