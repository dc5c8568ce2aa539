//! `BidRepository` over the `bids` table: placing a bid locks its order (so a bid never
//! lands on an order being assigned), listing, and selection (in `bid_selection`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use goodrobot_domain::{Bid, BidId, BidStatus, DomainError, NewBid, OrderId, OrderStatus, Selection};
use goodrobot_ports::{BidRepository, RepoError};

use crate::error::{About, Failure, retrying};
use crate::rows::{BidRow, NewBidRow, convert_all};
use crate::schema::{bids, orders};
use crate::store::PgStore;

impl PgStore {
    /// One transaction: lock the order, check it is `new`, insert the bid (the schema's
    /// foreign key reports a missing master, its partial unique index a second active bid).
    async fn insert_bid(&self, bid: &NewBid, now: DateTime<Utc>) -> Result<Bid, Failure> {
        let mut conn = self.conn().await?;
        conn.transaction(async |conn| {
            let status: String = orders::table
                .find(bid.order_id.0)
                .select(orders::status)
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| RepoError::not_found("order", bid.order_id))?;
            let status = status
                .parse::<OrderStatus>()
                .map_err(|e| RepoError::Internal(format!("stored order {} is invalid: {e}", bid.order_id)))?;
            if status != OrderStatus::New {
                return Err(DomainError::OrderNotOpen { order_id: bid.order_id, status }.into());
            }
            let row = NewBidRow {
                order_id: bid.order_id.0,
                master_id: bid.master_id.0,
                price: bid.price.get(),
                note: bid.note.as_str(),
                status: BidStatus::Active.as_str(),
                created_at: now,
            };
            let stored = diesel::insert_into(bids::table)
                .values(&row)
                .returning(BidRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(stored.try_into()?)
        })
        .await
    }

    async fn find_bid(&self, id: BidId) -> Result<Bid, Failure> {
        let mut conn = self.conn().await?;
        let row = bids::table.find(id.0).select(BidRow::as_select()).first(&mut conn).await.optional()?;
        Ok(row.ok_or_else(|| RepoError::not_found("bid", id))?.try_into()?)
    }

    async fn bids_of_order(&self, order: OrderId) -> Result<Vec<Bid>, Failure> {
        let mut conn = self.conn().await?;
        let exists: bool =
            diesel::select(diesel::dsl::exists(orders::table.find(order.0))).get_result(&mut conn).await?;
        if !exists {
            return Err(RepoError::not_found("order", order).into());
        }
        let rows = bids::table
            .filter(bids::order_id.eq(order.0))
            .order(bids::id.asc())
            .select(BidRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(convert_all(rows)?)
    }
}

#[async_trait]
impl BidRepository for PgStore {
    #[tracing::instrument(
        name = "pg.bids.create",
        skip_all,
        fields(order_id = %bid.order_id, master_id = %bid.master_id),
        err(Display, level = "debug")
    )]
    async fn create(&self, bid: NewBid, now: DateTime<Utc>) -> Result<Bid, RepoError> {
        retrying(About::new_bid(bid.order_id, bid.master_id), || self.insert_bid(&bid, now)).await
    }

    #[tracing::instrument(name = "pg.bids.get", skip_all, fields(bid_id = %id), err(Display, level = "debug"))]
    async fn get(&self, id: BidId) -> Result<Bid, RepoError> {
        retrying(About::default(), || self.find_bid(id)).await
    }

    #[tracing::instrument(name = "pg.bids.list_for_order", skip_all, fields(order_id = %order), err(Display, level = "debug"))]
    async fn list_for_order(&self, order: OrderId) -> Result<Vec<Bid>, RepoError> {
        retrying(About::default(), || self.bids_of_order(order)).await
    }

    #[tracing::instrument(name = "pg.bids.select", skip_all, fields(bid_id = %bid), err(Display, level = "debug"))]
    async fn select(&self, bid: BidId, now: DateTime<Utc>) -> Result<Selection, RepoError> {
        retrying(About::default(), || self.select_bid_once(bid, now)).await
    }
}
