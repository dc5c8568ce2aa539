//! Temporary user state on Redis: one hash per user, `<prefix>:state:<user_id>`, holding
//! `step`, `updated_at` and one `d:<key>` field per data key (its JSON value), with a TTL.
//!
//! Keeping each data key in its own field lets `patch` merge inside Redis without decoding
//! JSON there (Lua's cjson would turn `[]` into `{}` and round big integers).

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use goodrobot_domain::UserId;
use goodrobot_ports::{Clock, StateError, StateStore, SystemClock, UserState};
use serde_json::{Map, Value};
use std::{collections::HashMap, sync::Arc, time::Duration};

use crate::{RedisPool, pool::redis_error_kind, ttl::px};

const STEP: &str = "step";
const UPDATED_AT: &str = "updated_at";
const DATA_PREFIX: &str = "d:";

/// [`StateStore`] over a [`RedisPool`].
#[derive(Clone)]
pub struct RedisStateStore {
    pool: RedisPool,
    clock: Arc<dyn Clock>,
    patch: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStateStore").field("pool", &self.pool).finish_non_exhaustive()
    }
}

impl RedisStateStore {
    /// `patch` stamps `updated_at` with the system clock.
    pub fn new(pool: RedisPool) -> Self {
        Self::with_clock(pool, Arc::new(SystemClock))
    }

    pub fn with_clock(pool: RedisPool, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock, patch: Arc::new(redis::Script::new(include_str!("scripts/state_patch.lua"))) }
    }

    fn key(&self, user_id: UserId) -> String {
        self.pool.key(&["state", &user_id.to_string()])
    }

    async fn conn(&self) -> Result<crate::RedisConn, StateError> {
        self.pool.get().await.map_err(StateError::Unavailable)
    }
}

fn unavailable(e: &redis::RedisError) -> StateError {
    StateError::Unavailable(redis_error_kind(e))
}

fn check_ttl(ttl: Duration) -> Result<u64, StateError> {
    if ttl.is_zero() { Err(StateError::Invalid("ttl must be positive".to_owned())) } else { Ok(px(ttl)) }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The hash fields of `data`: `d:<key>` → its JSON.
fn data_fields(data: &Map<String, Value>) -> Vec<(String, String)> {
    data.iter().map(|(k, v)| (format!("{DATA_PREFIX}{k}"), v.to_string())).collect()
}

/// The script arguments of a patch: as [`data_fields`], but a `null` becomes `""` (delete).
fn patch_fields(patch: &Map<String, Value>) -> Vec<(String, String)> {
    patch
        .iter()
        .map(|(k, v)| (format!("{DATA_PREFIX}{k}"), if v.is_null() { String::new() } else { v.to_string() }))
        .collect()
}

/// A state back from its hash; `None` for an empty (missing) hash.
fn decode(mut fields: HashMap<String, String>) -> Result<Option<UserState>, StateError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let corrupt = |what: &str| StateError::Invalid(format!("stored state has {what}"));
    let step = fields.remove(STEP).ok_or_else(|| corrupt("no step"))?;
    let updated_at = fields
        .remove(UPDATED_AT)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .ok_or_else(|| corrupt("no valid updated_at"))?
        .with_timezone(&Utc);
    let mut data = Map::new();
    for (field, json) in fields {
        let Some(k) = field.strip_prefix(DATA_PREFIX) else { continue };
        let v = serde_json::from_str(&json).map_err(|_| corrupt("a data value that is not JSON"))?;
        data.insert(k.to_owned(), v);
    }
    UserState::new(step, Value::Object(data), updated_at).map(Some)
}

#[async_trait]
impl StateStore for RedisStateStore {
    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn get(&self, user_id: UserId) -> Result<Option<UserState>, StateError> {
        let mut conn = self.conn().await?;
        let fields: HashMap<String, String> =
            redis::cmd("HGETALL").arg(self.key(user_id)).query_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        decode(fields)
    }

    #[tracing::instrument(level = "debug", skip(self, state), err)]
    async fn put(&self, user_id: UserId, state: &UserState, ttl: Duration) -> Result<(), StateError> {
        let ms = check_ttl(ttl)?;
        let key = self.key(user_id);
        let mut pipe = redis::pipe();
        // MULTI/EXEC: a reader sees the old state or the new one, never a mix.
        pipe.atomic().cmd("DEL").arg(&key).ignore();
        pipe.cmd("HSET")
            .arg(&key)
            .arg(STEP)
            .arg(state.step())
            .arg(UPDATED_AT)
            .arg(timestamp(state.updated_at()))
            .arg(data_fields(state.data()))
            .ignore();
        pipe.cmd("PEXPIRE").arg(&key).arg(ms).ignore();
        let mut conn = self.conn().await?;
        pipe.query_async::<()>(&mut conn).await.map_err(|e| unavailable(&e))
    }

    #[tracing::instrument(level = "debug", skip(self, data), err)]
    async fn patch(
        &self,
        user_id: UserId,
        data: Map<String, Value>,
        ttl: Duration,
    ) -> Result<Option<UserState>, StateError> {
        let ms = check_ttl(ttl)?;
        let mut call = self.patch.key(self.key(user_id));
        call.arg(ms).arg(timestamp(self.clock.now())).arg(patch_fields(&data));
        let mut conn = self.conn().await?;
        let fields: Option<HashMap<String, String>> =
            call.invoke_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        fields.map_or(Ok(None), decode)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn clear(&self, user_id: UserId) -> Result<bool, StateError> {
        let mut conn = self.conn().await?;
        let removed: u64 =
            redis::cmd("UNLINK").arg(self.key(user_id)).query_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        Ok(removed > 0)
    }
}
