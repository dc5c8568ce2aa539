//! `/users/{id}/state`: a user's temporary state (bot conversation step + data, with a TTL).

use chrono::{DateTime, Utc};
use goodrobot_domain::UserId;
use goodrobot_ports::UserState;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path},
    payload::Json,
    types::Any,
};
use serde_json::{Map, Value};

use crate::{
    ApiTags, AppState,
    auth::{Auth, Readers, Writers},
    body::JsonBody,
    params::Lenient,
    problem::{ApiResult, Problem},
};

/// A user's temporary state.
#[derive(Debug, Clone, Object)]
pub struct UserStateDto {
    /// The conversation step, e.g. `awaiting_address`.
    pub step: String,
    /// Data collected so far (a JSON object).
    pub data: Any<Value>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserState> for UserStateDto {
    fn from(s: UserState) -> Self {
        Self { step: s.step().to_owned(), data: Any(Value::Object(s.data().clone())), updated_at: s.updated_at() }
    }
}

/// Replaces the state.
#[derive(Debug, Clone, Object, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutUserState {
    /// 1 to 128 bytes.
    pub step: String,
    /// A JSON object.
    #[serde(default = "empty_object")]
    #[oai(default = "empty_object_any")]
    pub data: Any<Value>,
    /// Seconds to keep it (1 … 2592000, default 86400).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// Merges keys into the state's data (`null` removes a key).
#[derive(Debug, Clone, Object, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchUserState {
    pub data: Any<Map<String, Value>>,
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

fn empty_object() -> Any<Value> {
    Any(Value::Object(Map::new()))
}

fn empty_object_any() -> Any<Value> {
    empty_object()
}

#[derive(Debug, ApiResponse)]
pub enum Cleared {
    /// The state was forgotten.
    #[oai(status = 204)]
    Cleared,
}

fn no_state(id: UserId) -> Problem {
    Problem::new(poem::http::StatusCode::NOT_FOUND, "not_found", format!("user {id} has no state"))
}

/// The user-state endpoints.
#[derive(Debug, Clone)]
pub struct UserStateApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/users", tag = "ApiTags::Users")]
impl UserStateApi {
    /// Read a user's temporary state
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/:id/state", method = "get", operation_id = "get_user_state")]
    async fn get(&self, _auth: Auth<Readers>, id: Path<Lenient<i64>>) -> ApiResult<Json<UserStateDto>> {
        let id = UserId(id.0.get("id")?);
        let s = self.state.user_state.get(id).await?.ok_or_else(|| no_state(id))?;
        Ok(Json(s.into()))
    }

    /// Replace a user's temporary state
    ///
    /// **Roles:** `admin`; `bot` acting as this user (`X-Acting-User`).
    #[oai(path = "/:id/state", method = "put", operation_id = "put_user_state")]
    async fn put(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        id: Path<Lenient<i64>>,
        body: JsonBody<PutUserState>,
    ) -> ApiResult<Json<UserStateDto>> {
        let id = UserId(id.0.get("id")?);
        auth.actor(acting.0).must_be(id, None)?;
        let b = body.0;
        Ok(Json(self.state.user_state.put(id, b.step, b.data.0, b.ttl_secs).await?.into()))
    }

    /// Merge keys into a user's temporary state
    ///
    /// **Roles:** `admin`; `bot` acting as this user (`X-Acting-User`).
    #[oai(path = "/:id/state", method = "patch", operation_id = "patch_user_state")]
    async fn patch(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        id: Path<Lenient<i64>>,
        body: JsonBody<PatchUserState>,
    ) -> ApiResult<Json<UserStateDto>> {
        let id = UserId(id.0.get("id")?);
        auth.actor(acting.0).must_be(id, None)?;
        let b = body.0;
        let s = self.state.user_state.patch(id, b.data.0, b.ttl_secs).await?.ok_or_else(|| no_state(id))?;
        Ok(Json(s.into()))
    }

    /// Forget a user's temporary state
    ///
    /// **Roles:** `admin`; `bot` acting as this user (`X-Acting-User`).
    #[oai(path = "/:id/state", method = "delete", operation_id = "clear_user_state")]
    async fn clear(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        id: Path<Lenient<i64>>,
    ) -> ApiResult<Cleared> {
        let id = UserId(id.0.get("id")?);
        auth.actor(acting.0).must_be(id, None)?;
        if self.state.user_state.clear(id).await? { Ok(Cleared::Cleared) } else { Err(no_state(id)) }
    }
}
