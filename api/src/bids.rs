//! Bids: `/orders/{id}/bids` (place, list) and `/bids/{bid_id}/assign` (select, as a task).

use goodrobot_domain::{
    BidId, OrderId, UserId,
    task::{ProcessBidAssignment, ProcessBidAssignmentArgs},
};
use goodrobot_ports::services::TaskOptions;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};

use crate::{
    ApiTags, AppState,
    auth::{Auth, Readers, Writers},
    body::JsonBody,
    dto::{AssignAccepted, BidDto, BidList, PlaceBid},
    params::Lenient,
    problem::{ApiResult, Problem, ProblemExt},
};

#[derive(Debug, ApiResponse)]
pub enum BidPlaced {
    /// The bid was placed.
    #[oai(status = 201)]
    Created(Json<BidDto>),
}

#[derive(Debug, ApiResponse)]
pub enum AssignmentAccepted {
    /// The assignment is queued; follow `task_id`.
    #[oai(status = 202)]
    Accepted(Json<AssignAccepted>),
}

/// The bid endpoints.
#[derive(Debug, Clone)]
pub struct BidsApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Bids")]
impl BidsApi {
    /// Place a bid on a new order
    ///
    /// `master_id` must be an active master with no other active bid on the order.
    ///
    /// **Roles:** `admin`; `bot` acting as the master (`X-Acting-User` = `master_id`, else 403
    /// `not_owner`).
    #[oai(path = "/orders/:id/bids", method = "post", operation_id = "place_bid")]
    async fn place(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        id: Path<Lenient<i64>>,
        body: JsonBody<PlaceBid>,
    ) -> ApiResult<BidPlaced> {
        auth.actor(acting.0).must_be(UserId(body.0.master_id), Some("master_id"))?;
        let (price, note) = body.0.checked()?;
        let bid = self
            .state
            .bids
            .place(OrderId(id.0.get("id")?), UserId(body.0.master_id), price, note)
            .await
            .map_err(|e| Problem::from(e).user_field("master_id"))?;
        Ok(BidPlaced::Created(Json(bid.into())))
    }

    /// List the bids of an order
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/orders/:id/bids", method = "get", operation_id = "list_bids")]
    async fn list(&self, _auth: Auth<Readers>, id: Path<Lenient<i64>>) -> ApiResult<Json<BidList>> {
        let bids = self.state.bids.list(OrderId(id.0.get("id")?)).await?;
        Ok(Json(BidList { items: bids.into_iter().map(Into::into).collect() }))
    }

    /// Assign the order to this bid's master (runs `process_bid_assignment`)
    ///
    /// Checked before queueing: the bid exists (404), `master_id` is its master (422
    /// `not_the_bids_master`), the order is still open (409). Repeated requests for one bid
    /// while its task is unfinished return the same task.
    ///
    /// **Roles:** `admin`; `bot` acting as the client who owns the bid's order (else 403
    /// `not_owner`).
    #[oai(path = "/bids/:bid_id/assign", method = "post", operation_id = "assign_bid")]
    async fn assign(
        &self,
        auth: Auth<Writers>,
        /// The user a `bot` key acts for (their GoodRobot user id); ignored for `admin`.
        #[oai(name = "X-Acting-User")]
        acting: Header<Option<i64>>,
        bid_id: Path<Lenient<i64>>,
        master_id: Query<i64>,
    ) -> ApiResult<AssignmentAccepted> {
        let (bid_id, master_id) = (BidId(bid_id.0.get("bid_id")?), UserId(master_id.0));
        let actor = auth.actor(acting.0);
        if !actor.is_anyone() {
            let bid = self.state.bids.get(bid_id).await?;
            actor.must_be(self.state.orders.get(bid.order_id).await?.client_id, None)?;
        }
        self.state.bids.check_assignment(bid_id, master_id).await?;
        let options = TaskOptions { dedup_key: Some(format!("assign:{bid_id}")), ..TaskOptions::default() };
        let args = ProcessBidAssignmentArgs { bid_id, master_id };
        let sent = self.state.tasks.submit_typed::<ProcessBidAssignment>(&args, options).await?;
        self.state.metrics.submitted_task::<ProcessBidAssignment>(&sent);
        Ok(AssignmentAccepted::Accepted(Json(AssignAccepted {
            status: "processing".to_owned(),
            task_id: sent.task_id.to_string(),
        })))
    }
}
