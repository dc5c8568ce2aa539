//! `/users`: create, list, read (through the cache), update.

use goodrobot_domain::UserId;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use crate::{
    ApiTags, AppState,
    body::JsonBody,
    dto::{CreateUser, UpdateUser, UserDto, UserPage, page},
    params::Lenient,
    problem::ApiResult,
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
    #[oai(path = "/", method = "post", operation_id = "create_user")]
    async fn create(&self, body: JsonBody<CreateUser>) -> ApiResult<UserCreated> {
        let user = self.state.users.create(body.0.into_domain()?).await?;
        let location = format!("/api/v1/users/{}", user.id);
        Ok(UserCreated::Created(Json(user.into()), location))
    }

    /// List users in id order
    #[oai(path = "/", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        /// Only users with a greater id (the `next_after` of the previous page).
        after: Query<Option<i64>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UserPage>> {
        let p = self.state.users.list(page(after.0, limit.0)?).await?;
        Ok(Json(UserPage { items: p.items.into_iter().map(Into::into).collect(), next_after: p.next_after }))
    }

    /// Read a user (cached for an hour, invalidated on update)
    #[oai(path = "/:id", method = "get", operation_id = "get_user")]
    async fn get(&self, id: Path<Lenient<i64>>) -> ApiResult<Json<UserDto>> {
        Ok(Json(self.state.users.get(UserId(id.0.get("id")?)).await?.into()))
    }

    /// Change a user's name, phone (`null` clears it), role or activity
    #[oai(path = "/:id", method = "patch", operation_id = "update_user")]
    async fn update(&self, id: Path<Lenient<i64>>, body: JsonBody<UpdateUser>) -> ApiResult<Json<UserDto>> {
        let patch = body.0.into_domain()?;
        Ok(Json(self.state.users.update(UserId(id.0.get("id")?), patch).await?.into()))
    }
}
