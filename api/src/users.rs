//! `/users`: create, list, read (through the cache), update.

use goodrobot_domain::{TgId, UserId};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};

use crate::{
    ApiTags, AppState,
    auth::{Auth, Readers, Writers},
    body::JsonBody,
    dto::{CreateUser, RoleDto, UpdateUser, UserDto, UserPage, page},
    params::Lenient,
    problem::{ApiResult, Problem},
};

#[derive(Debug, ApiResponse)]
pub enum UserCreated {
    /// The user was created.
    #[oai(status = 201)]
    Created(Json<UserDto>, #[oai(header = "Location")] String),
}

/// The user endpoints.
#[derive(Debug, Clone)]
pub struct UsersApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// Create a user
    ///
    /// `tg_id` and `phone` are unique (409 `conflict` naming the field).
    ///
    /// **Roles:** `admin`; `bot` (registering a user needs no `X-Acting-User`), except a user
    /// of role `admin`, which only an `admin` key creates (403 `forbidden`).
    #[oai(path = "/", method = "post", operation_id = "create_user")]
    async fn create(&self, auth: Auth<Writers>, body: JsonBody<CreateUser>) -> ApiResult<UserCreated> {
        if body.0.role == RoleDto::Admin {
            auth.require_admin_for("role")?;
        }
        let user = self.state.users.create(body.0.into_domain()?).await?;
        let location = format!("/api/v1/users/{}", user.id);
        Ok(UserCreated::Created(Json(user.into()), location))
    }

    /// List users in id order
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        _auth: Auth<Readers>,
        /// Only users with a greater id (the `next_after` of the previous page).
        after: Query<Option<i64>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UserPage>> {
        let p = self.state.users.list(page(after.0, limit.0)?).await?;
        Ok(Json(UserPage { items: p.items.into_iter().map(Into::into).collect(), next_after: p.next_after }))
    }

    /// Read a user (cached for an hour, invalidated on update)
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/:id", method = "get", operation_id = "get_user")]
    async fn get(&self, _auth: Auth<Readers>, id: Path<Lenient<i64>>) -> ApiResult<Json<UserDto>> {
        Ok(Json(self.state.users.get(UserId(id.0.get("id")?)).await?.into()))
    }

    /// Find the user of a Telegram id
    ///
    /// A bot knows who writes to it by Telegram id; this gives the user (and the `id` it then
    /// puts in `X-Acting-User`). 404 `not_found` if no user has it.
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/by-tg-id/:tg_id", method = "get", operation_id = "find_user_by_tg_id")]
    async fn find_by_tg_id(&self, _auth: Auth<Readers>, tg_id: Path<Lenient<i64>>) -> ApiResult<Json<UserDto>> {
        let tg_id = TgId::new(tg_id.0.get("tg_id")?).map_err(Problem::from)?;
        Ok(Json(self.state.users.find_by_tg_id(tg_id).await?.into()))
    }

    /// Change a user's name, phone (`null` clears it), role or activity
    ///
    /// **Roles:** `admin`; `bot` acting as this user (`X-Acting-User`), for the name and phone
    /// only (`role` and `is_active` need an `admin` key: 403 `forbidden`).
    #[oai(path = "/:id", method = "patch", operation_id = "update_user")]
    async fn update(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        id: Path<Lenient<i64>>,
        body: JsonBody<UpdateUser>,
    ) -> ApiResult<Json<UserDto>> {
        let id = UserId(id.0.get("id")?);
        auth.actor(acting.0).must_be(id, None)?;
        if body.0.role.is_some() {
            auth.require_admin_for("role")?;
        }
        if body.0.is_active.is_some() {
            auth.require_admin_for("is_active")?;
        }
        let patch = body.0.into_domain()?;
        Ok(Json(self.state.users.update(id, patch).await?.into()))
    }
}
