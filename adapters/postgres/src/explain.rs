//! The query plan of the order list (`EXPLAIN`), to show and test that its filters are
//! served by the indexes.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use goodrobot_domain::{OrderFilter, PageRequest};
use goodrobot_ports::RepoError;

use crate::error::{About, retrying};
use crate::orders::order_list_query;
use crate::store::PgStore;

/// `EXPLAIN <query>`, with the query's own bind values.
#[derive(Debug)]
struct Explain<Q>(Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("EXPLAIN ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> Query for Explain<Q> {
    type SqlType = Text;
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl PgStore {
    /// The plan Postgres chooses for `OrderRepository::list(filter, page)`, one line per
    /// plan node, as `EXPLAIN` prints it.
    ///
    /// # Errors
    /// As `OrderRepository::list`.
    #[tracing::instrument(name = "pg.orders.explain_list", skip_all, err(Display))]
    pub async fn explain_order_list(&self, filter: &OrderFilter, page: PageRequest) -> Result<String, RepoError> {
        let lines: Vec<String> = retrying(About::default(), || async {
            let mut conn = self.conn().await?;
            Ok(Explain(order_list_query(filter, page)).load::<String>(&mut conn).await?)
        })
        .await?;
        Ok(lines.join("\n"))
    }
}
