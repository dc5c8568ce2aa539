//! `/orders`: post, list with filters, read, complete, cancel.

use goodrobot_domain::{Category, OrderFilter, OrderId, UserId};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};

use crate::{
    ApiTags, AppState,
    auth::{Auth, Readers, Writers},
    body::JsonBody,
    dto::{CreateOrder, OrderDto, OrderPage, OrderStatusDto, page},
    params::Lenient,
    problem::{ApiResult, Problem, ProblemExt},
};

#[derive(Debug, ApiResponse)]
pub enum OrderCreated {
    /// The order was posted.
    #[oai(status = 201)]
    Created(Json<OrderDto>, #[oai(header = "Location")] String),
}

/// The order endpoints.
#[derive(Debug, Clone)]
pub struct OrdersApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/orders", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// Post an order
    ///
    /// `client_id` must be an active client (422 `wrong_role` / `inactive_user`);
    /// `when_at` must not be in the past.
    ///
    /// **Roles:** `admin`; `bot` acting as the client (`X-Acting-User` = `client_id`, else 403
    /// `not_owner`).
    #[oai(path = "/", method = "post", operation_id = "create_order")]
    async fn create(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        body: JsonBody<CreateOrder>,
    ) -> ApiResult<OrderCreated> {
        auth.actor(acting.0).must_be(UserId(body.0.client_id), Some("client_id"))?;
        let order = self
            .state
            .orders
            .create(body.0.into_domain()?)
            .await
            .map_err(|e| Problem::from(e).user_field("client_id"))?;
        let location = format!("/api/v1/orders/{}", order.id);
        Ok(OrderCreated::Created(Json(order.into()), location))
    }

    /// List orders in id order
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/", method = "get", operation_id = "list_orders")]
    async fn list(
        &self,
        _auth: Auth<Readers>,
        status: Query<Option<OrderStatusDto>>,
        category: Query<Option<String>>,
        client_id: Query<Option<i64>>,
        /// Only orders with a greater id (the `next_after` of the previous page).
        after: Query<Option<i64>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<OrderPage>> {
        let filter = OrderFilter {
            status: status.0.map(Into::into),
            category: category.0.as_deref().map(Category::new).transpose()?,
            client_id: client_id.0.map(UserId),
        };
        let p = self.state.orders.list(filter, page(after.0, limit.0)?).await?;
        Ok(Json(OrderPage { items: p.items.into_iter().map(Into::into).collect(), next_after: p.next_after }))
    }

    /// Read an order
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/:id", method = "get", operation_id = "get_order")]
    async fn get(&self, _auth: Auth<Readers>, id: Path<Lenient<i64>>) -> ApiResult<Json<OrderDto>> {
        Ok(Json(self.state.orders.get(OrderId(id.0.get("id")?)).await?.into()))
    }

    /// Mark an assigned order done
    ///
    /// **Roles:** `admin`; `bot` acting as the order's client or its assigned master.
    #[oai(path = "/:id/complete", method = "post", operation_id = "complete_order")]
    async fn complete(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        id: Path<Lenient<i64>>,
    ) -> ApiResult<Json<OrderDto>> {
        let id = OrderId(id.0.get("id")?);
        let actor = auth.actor(acting.0);
        if !actor.is_anyone() {
            let order = self.state.orders.get(id).await?;
            let owners: Vec<UserId> = std::iter::once(order.client_id).chain(order.master_id).collect();
            actor.must_be_one_of(&owners, None)?;
        }
        Ok(Json(self.state.orders.complete(id).await?.into()))
    }

    /// Cancel a new or assigned order
    ///
    /// **Roles:** `admin`; `bot` acting as the order's client.
    #[oai(path = "/:id/cancel", method = "post", operation_id = "cancel_order")]
    async fn cancel(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        id: Path<Lenient<i64>>,
    ) -> ApiResult<Json<OrderDto>> {
        let id = OrderId(id.0.get("id")?);
        let actor = auth.actor(acting.0);
        if !actor.is_anyone() {
            actor.must_be(self.state.orders.get(id).await?.client_id, None)?;
        }
        Ok(Json(self.state.orders.cancel(id).await?.into()))
    }
}
