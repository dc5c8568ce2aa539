//! Sessions on Redis. Only the SHA-256 of a token is ever sent to Redis:
//!
//! - `<prefix>:session:<sha256 hex>`: a hash `user`, `created`, `expires` (ms since the
//!   epoch), with the session's TTL (`touch` sets it anew: sliding expiry);
//! - `<prefix>:user-sessions:<user_id>`: the set of a user's session hashes, for
//!   `revoke_all`; it lives at least as long as the user's longest session.
//!
//! Every script touches one key, so the layout works on a Redis Cluster; the two keys of a
//! session are written one after the other (set first: a set entry without a session is
//! harmless and pruned, a session missing from its set could escape `revoke_all`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::UserId;
use goodrobot_ports::{Clock, Session, SessionError, SessionStore, SessionToken, SystemClock, TokenHash};
use std::{collections::HashMap, sync::Arc, time::Duration};

use crate::{RedisPool, pool::redis_error_kind, ttl::px};

/// Past this many entries in a user's set, `create` drops the entries of ended sessions.
const PRUNE_AT: u64 = 64;

type Conn = crate::RedisConn;

/// [`SessionStore`] over a [`RedisPool`].
#[derive(Clone)]
pub struct RedisSessionStore {
    pool: RedisPool,
    clock: Arc<dyn Clock>,
    track: Arc<redis::Script>,
    touch: Arc<redis::Script>,
    revoke: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore").field("pool", &self.pool).finish_non_exhaustive()
    }
}

fn unavailable(e: &redis::RedisError) -> SessionError {
    SessionError::Unavailable(redis_error_kind(e))
}

fn check_ttl(ttl: Duration) -> Result<u64, SessionError> {
    if ttl.is_zero() { Err(SessionError::Invalid("ttl must be positive".to_owned())) } else { Ok(px(ttl)) }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A session back from its hash; `None` for an empty (missing) one.
fn decode(fields: &HashMap<String, String>) -> Result<Option<Session>, SessionError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let int = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
    let time = |name: &str| int(name).and_then(DateTime::from_timestamp_millis);
    match (int("user"), time("created"), time("expires")) {
        (Some(user), Some(created_at), Some(expires_at)) => {
            Ok(Some(Session { user_id: UserId(user), created_at, expires_at }))
        }
        _ => Err(SessionError::Invalid("stored session is malformed".to_owned())),
    }
}

impl RedisSessionStore {
    /// Session times come from the system clock.
    pub fn new(pool: RedisPool) -> Self {
        Self::with_clock(pool, Arc::new(SystemClock))
    }

    pub fn with_clock(pool: RedisPool, clock: Arc<dyn Clock>) -> Self {
        Self {
            pool,
            clock,
            track: Arc::new(redis::Script::new(include_str!("scripts/session_track.lua"))),
            touch: Arc::new(redis::Script::new(include_str!("scripts/session_touch.lua"))),
            revoke: Arc::new(redis::Script::new(include_str!("scripts/session_revoke.lua"))),
        }
    }

    fn session_key(&self, hash: &TokenHash) -> String {
        self.pool.key(&["session", &hash.to_hex()])
    }

    fn user_key(&self, user_id: UserId) -> String {
        self.pool.key(&["user-sessions", &user_id.to_string()])
    }

    async fn conn(&self) -> Result<Conn, SessionError> {
        self.pool.get().await.map_err(SessionError::Unavailable)
    }

    /// Puts `hash` in the user's set, which then lives at least `ms`; returns the set's size.
    async fn track(&self, conn: &mut Conn, user_id: UserId, hash: &str, ms: u64) -> Result<u64, SessionError> {
        let mut call = self.track.key(self.user_key(user_id));
        call.arg(hash).arg(ms);
        call.invoke_async(&mut *conn).await.map_err(|e| unavailable(&e))
    }

    /// Drops the user's set entries whose session has ended.
    async fn prune(&self, conn: &mut Conn, user_id: UserId) -> Result<(), SessionError> {
        let user_key = self.user_key(user_id);
        let hashes: Vec<String> =
            redis::cmd("SMEMBERS").arg(&user_key).query_async(&mut *conn).await.map_err(|e| unavailable(&e))?;
        let mut pipe = redis::pipe();
        for h in &hashes {
            pipe.cmd("EXISTS").arg(self.pool.key(&["session", h]));
        }
        let live: Vec<bool> = pipe.query_async(&mut *conn).await.map_err(|e| unavailable(&e))?;
        let ended: Vec<&String> = hashes.iter().zip(live).filter(|(_, live)| !live).map(|(h, _)| h).collect();
        if !ended.is_empty() {
            redis::cmd("SREM")
                .arg(&user_key)
                .arg(ended)
                .query_async::<()>(&mut *conn)
                .await
                .map_err(|e| unavailable(&e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn create(&self, user_id: UserId, ttl: Duration) -> Result<(SessionToken, Session), SessionError> {
        let ms = check_ttl(ttl)?;
        let token = SessionToken::generate();
        let hash = token.hash().to_hex();
        // Whole milliseconds: what the hash keeps, so that `get` returns the same session.
        let now = self.clock.now();
        let now = DateTime::from_timestamp_millis(millis(now)).unwrap_or(now);
        let session = Session {
            user_id,
            created_at: now,
            expires_at: now + chrono::TimeDelta::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX)),
        };
        let mut conn = self.conn().await?;
        let tracked = self.track(&mut conn, user_id, &hash, ms).await?;
        let key = self.pool.key(&["session", &hash]);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("user")
            .arg(user_id.0)
            .arg("created")
            .arg(millis(session.created_at))
            .arg("expires")
            .arg(millis(session.expires_at))
            .ignore();
        pipe.cmd("PEXPIRE").arg(&key).arg(ms).ignore();
        pipe.query_async::<()>(&mut conn).await.map_err(|e| unavailable(&e))?;
        if tracked > PRUNE_AT {
            self.prune(&mut conn, user_id).await?;
        }
        Ok((token, session))
    }

    #[tracing::instrument(level = "debug", skip_all, err)]
    async fn get(&self, token: &SessionToken) -> Result<Option<Session>, SessionError> {
        let mut conn = self.conn().await?;
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.session_key(&token.hash()))
            .query_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        decode(&fields)
    }

    #[tracing::instrument(level = "debug", skip(self, token), err)]
    async fn touch(&self, token: &SessionToken, ttl: Duration) -> Result<Option<Session>, SessionError> {
        let ms = check_ttl(ttl)?;
        let hash = token.hash().to_hex();
        let expires = self.clock.now() + chrono::TimeDelta::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
        let mut call = self.touch.key(self.pool.key(&["session", &hash]));
        call.arg(ms).arg(millis(expires));
        let mut conn = self.conn().await?;
        let fields: Option<HashMap<String, String>> =
            call.invoke_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        let Some(session) = fields.as_ref().map(decode).transpose()?.flatten() else { return Ok(None) };
        // The user's set must outlive the session it now extends.
        self.track(&mut conn, session.user_id, &hash, ms).await?;
        Ok(Some(session))
    }

    #[tracing::instrument(level = "debug", skip_all, err)]
    async fn revoke(&self, token: &SessionToken) -> Result<bool, SessionError> {
        let hash = token.hash().to_hex();
        let call = self.revoke.key(self.pool.key(&["session", &hash]));
        let mut conn = self.conn().await?;
        let user: Option<i64> = call.invoke_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        let Some(user) = user else { return Ok(false) };
        redis::cmd("SREM")
            .arg(self.user_key(UserId(user)))
            .arg(&hash)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn revoke_all(&self, user_id: UserId) -> Result<u64, SessionError> {
        let user_key = self.user_key(user_id);
        let mut conn = self.conn().await?;
        let hashes: Vec<String> =
            redis::cmd("SMEMBERS").arg(&user_key).query_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        if hashes.is_empty() {
            return Ok(0);
        }
        // One UNLINK per session (they may sit in different cluster slots).
        let mut pipe = redis::pipe();
        for h in &hashes {
            pipe.cmd("UNLINK").arg(self.pool.key(&["session", h]));
        }
        let removed: Vec<u64> = pipe.query_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        // Only the entries read above: a session created meanwhile stays in the set.
        redis::cmd("SREM")
            .arg(&user_key)
            .arg(&hashes)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(removed.iter().sum())
    }
}
