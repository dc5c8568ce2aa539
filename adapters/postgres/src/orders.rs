//! `OrderRepository` over the `orders` table: keyset-paged filtered listing (served by the
//! `(status, category, id)` and `(client_id, id)` indexes) and locked status transitions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use goodrobot_domain::{NewOrder, Order, OrderFilter, OrderId, OrderStatus, OrderTransition, Page, PageRequest};
use goodrobot_ports::{OrderRepository, RepoError};

use crate::error::{About, Failure, retrying};
use crate::rows::{NewOrderRow, OrderRow, convert_all};
use crate::schema::orders;
use crate::store::PgStore;

type OrderListQuery = orders::BoxedQuery<'static, Pg, SqlTypeOf<AsSelect<OrderRow, Pg>>>;

/// The query behind `OrderRepository::list`: the orders matching `filter` after the page's
/// cursor, in id order, one more than the page holds.
pub(crate) fn order_list_query(filter: &OrderFilter, page: PageRequest) -> OrderListQuery {
    let mut q = filtered(orders::table.select(OrderRow::as_select()).into_boxed(), filter);
    if let Some(after) = page.after() {
        q = q.filter(orders::id.gt(after));
    }
    q.order(orders::id.asc()).limit(i64::from(page.limit()) + 1)
}

/// `filter`'s conditions on a boxed query over `orders` (the list and the count share them).
fn filtered<'a, ST>(mut q: orders::BoxedQuery<'a, Pg, ST>, filter: &OrderFilter) -> orders::BoxedQuery<'a, Pg, ST> {
    if let Some(status) = filter.status {
        q = q.filter(orders::status.eq(status.as_str()));
    }
    if let Some(category) = &filter.category {
        q = q.filter(orders::category.eq(category.as_str().to_owned()));
    }
    if let Some(client) = filter.client_id {
        q = q.filter(orders::client_id.eq(client.0));
    }
    q
}

impl PgStore {
    async fn insert_order(&self, order: &NewOrder, now: DateTime<Utc>) -> Result<Order, Failure> {
        let row = NewOrderRow {
            client_id: order.client_id.0,
            category: order.category.as_str(),
            address: order.address.as_str(),
            description: order.description.as_str(),
            when_at: order.when_at,
            status: OrderStatus::New.as_str(),
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.conn().await?;
        let stored = diesel::insert_into(orders::table)
            .values(&row)
            .returning(OrderRow::as_returning())
            .get_result(&mut conn)
            .await?;
        Ok(stored.try_into()?)
    }

    async fn find_order(&self, id: OrderId) -> Result<Order, Failure> {
        let mut conn = self.conn().await?;
        let row = orders::table.find(id.0).select(OrderRow::as_select()).first(&mut conn).await.optional()?;
        Ok(row.ok_or_else(|| RepoError::not_found("order", id))?.try_into()?)
    }

    async fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> Result<Page<Order>, Failure> {
        let mut conn = self.conn().await?;
        let rows = order_list_query(filter, page).load(&mut conn).await?;
        Ok(Page::from_overfetch(convert_all(rows)?, page, |o: &Order| o.id.0))
    }

    async fn count_orders(&self, filter: &OrderFilter) -> Result<u64, Failure> {
        let mut conn = self.conn().await?;
        let n: i64 = filtered(orders::table.count().into_boxed(), filter).get_result(&mut conn).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One transaction: lock the order, check the move, write it.
    async fn transition_order(&self, id: OrderId, t: OrderTransition, now: DateTime<Utc>) -> Result<Order, Failure> {
        let mut conn = self.conn().await?;
        conn.transaction(async |conn| {
            let row = orders::table
                .find(id.0)
                .select(OrderRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| RepoError::not_found("order", id))?;
            let mut order = Order::try_from(row)?;
            order.transition(t.target(), now)?;
            let stored = diesel::update(orders::table.find(id.0))
                .set((orders::status.eq(order.status.as_str()), orders::updated_at.eq(order.updated_at)))
                .returning(OrderRow::as_returning())
                .get_result(conn)
                .await?;
            Ok(stored.try_into()?)
        })
        .await
    }
}

#[async_trait]
impl OrderRepository for PgStore {
    #[tracing::instrument(name = "pg.orders.create", skip_all, fields(client_id = %order.client_id), err(Display, level = "debug"))]
    async fn create(&self, order: NewOrder, now: DateTime<Utc>) -> Result<Order, RepoError> {
        retrying(About::new_order(order.client_id), || self.insert_order(&order, now)).await
    }

    #[tracing::instrument(name = "pg.orders.get", skip_all, fields(order_id = %id), err(Display, level = "debug"))]
    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        retrying(About::default(), || self.find_order(id)).await
    }

    #[tracing::instrument(name = "pg.orders.list", skip_all, err(Display, level = "debug"))]
    async fn list(&self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>, RepoError> {
        retrying(About::default(), || self.list_orders(&filter, page)).await
    }

    #[tracing::instrument(name = "pg.orders.count", skip_all, err(Display, level = "debug"))]
    async fn count(&self, filter: OrderFilter) -> Result<u64, RepoError> {
        retrying(About::default(), || self.count_orders(&filter)).await
    }

    #[tracing::instrument(name = "pg.orders.transition", skip_all, fields(order_id = %id), err(Display, level = "debug"))]
    async fn transition(&self, id: OrderId, t: OrderTransition, now: DateTime<Utc>) -> Result<Order, RepoError> {
        retrying(About::default(), || self.transition_order(id, t, now)).await
    }
}
