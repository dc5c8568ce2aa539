//! Postgres persistence for GoodRobot: the user, order and bid repositories over diesel-async
//! with a bb8 pool, and a health check — no libpq (tokio-postgres underneath).
//!
//! The schema comes from `goodrobot-migrations`; run its `run_pending` before serving.
//! Bid selection and bid placement lock the order row (`SELECT … FOR UPDATE`), so two
//! concurrent selections of one order cannot both win. Database errors become the ports'
//! errors in one place (the `error` module).

mod bid_selection;
mod bids;
mod config;
mod error;
mod explain;
mod orders;
mod rows;
mod schema;
mod store;
mod users;

pub use config::{PgConfig, PgSetupError};
pub use store::PgStore;
