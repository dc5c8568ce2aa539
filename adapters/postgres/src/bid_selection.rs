//! Bid selection as one transaction: lock the order row, load its bids, let the domain's
//! `select_bid` decide, write the order and the bids. The lock makes concurrent selections
//! of one order take turns, so exactly one wins and the others see an assigned order.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use goodrobot_domain::{BidId, BidStatus, Order, OrderStatus, Selection, SelectionOutcome, select_bid};
use goodrobot_ports::RepoError;

use crate::error::Failure;
use crate::rows::{BidRow, OrderRow, convert_all};
use crate::schema::{bids, orders};
use crate::store::PgStore;

impl PgStore {
    /// One attempt at selecting `bid`; selecting the already selected bid writes nothing.
    pub(crate) async fn select_bid_once(&self, bid: BidId, now: DateTime<Utc>) -> Result<Selection, Failure> {
        let mut conn = self.conn().await?;
        conn.transaction(async |conn| {
            let order_id: i64 = bids::table
                .find(bid.0)
                .select(bids::order_id)
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| RepoError::not_found("bid", bid))?;
            let order_row = orders::table
                .find(order_id)
                .select(OrderRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| RepoError::not_found("order", order_id))?;
            let bid_rows = bids::table
                .filter(bids::order_id.eq(order_id))
                .order(bids::id.asc())
                .select(BidRow::as_select())
                .load(conn)
                .await?;
            let selection = select_bid(Order::try_from(order_row)?, convert_all(bid_rows)?, bid, now)?;
            if selection.outcome == SelectionOutcome::AlreadySelected {
                return Ok(selection);
            }

            let order = diesel::update(orders::table.find(order_id))
                .set((
                    orders::status.eq(OrderStatus::Assigned.as_str()),
                    orders::master_id.eq(selection.order.master_id.map(|m| m.0)),
                    orders::updated_at.eq(selection.order.updated_at),
                ))
                .returning(OrderRow::as_returning())
                .get_result(conn)
                .await?;
            let rejected: Vec<i64> = selection.rejected.iter().map(|b| b.0).collect();
            diesel::update(bids::table.filter(bids::id.eq_any(&rejected)))
                .set(bids::status.eq(BidStatus::Rejected.as_str()))
                .execute(conn)
                .await?;
            let selected = diesel::update(bids::table.find(bid.0))
                .set(bids::status.eq(BidStatus::Selected.as_str()))
                .returning(BidRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(Selection { order: order.try_into()?, selected: selected.try_into()?, ..selection })
        })
        .await
    }
}
