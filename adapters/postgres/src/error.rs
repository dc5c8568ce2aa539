//! Database errors in the ports' terms — the one place where that translation happens — and
//! the bounded retry of attempts that failed on a serialization failure or a deadlock.
//!
//! | database error | `RepoError` |
//! |---|---|
//! | unique violation of `users_tg_id_key` / `users_phone_key` | `Conflict { field: "tg_id" / "phone" }` |
//! | unique violation of `bids_one_active_per_master` | `Domain(DuplicateActiveBid)` |
//! | other unique violation `<table>_<field>_key` | `Conflict { field }` |
//! | foreign key violation `<table>_<column>_fkey` | `NotFound` of the referenced entity |
//! | serialization failure, deadlock, `bids_one_selected_per_order` | retried (3 times), then `Unavailable` |
//! | lost connection, pool timeout, statement timeout | `Unavailable` |
//! | anything else, invalid stored data | `Internal` |

use goodrobot_domain::{DomainError, OrderId, UserId};
use goodrobot_ports::RepoError;
use std::{future::Future, time::Duration};

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

/// How many times an attempt that failed on a transient conflict is tried again.
pub(crate) const MAX_RETRIES: u32 = 3;

/// Why one attempt failed: a database error still to translate, a pool that gave no
/// connection, or an answer already in the port's terms.
#[derive(Debug)]
pub(crate) enum Failure {
    Db(DieselError),
    Pool(String),
    Repo(RepoError),
}

impl From<DieselError> for Failure {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

impl From<RepoError> for Failure {
    fn from(e: RepoError) -> Self {
        Self::Repo(e)
    }
}

impl From<DomainError> for Failure {
    fn from(e: DomainError) -> Self {
        Self::Repo(RepoError::Domain(e))
    }
}

/// The records the failing statement was about, so that an error can name them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct About {
    pub order_id: Option<OrderId>,
    pub client_id: Option<UserId>,
    pub master_id: Option<UserId>,
}

impl About {
    pub(crate) fn new_order(client_id: UserId) -> Self {
        Self { client_id: Some(client_id), ..Self::default() }
    }

    pub(crate) fn new_bid(order_id: OrderId, master_id: UserId) -> Self {
        Self { order_id: Some(order_id), master_id: Some(master_id), ..Self::default() }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or has failed on a transient conflict
/// `MAX_RETRIES + 1` times (then `Unavailable`). Each attempt must be a whole transaction.
pub(crate) async fn retrying<T, F, Fut>(about: About, mut attempt: F) -> Result<T, RepoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(Failure::Db(e)) if is_transient(&e) => {
                if retries == MAX_RETRIES {
                    return Err(logged(RepoError::Unavailable(format!(
                        "gave up after {} attempts on a transient conflict: {e}",
                        retries + 1
                    ))));
                }
                retries += 1;
                tracing::debug!(error = %e, retry = retries, "transient conflict; trying again");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(retries))).await;
            }
            Err(f) => return Err(logged(translate(f, about))),
        }
    }
}

/// Logs the errors that are the store's fault (the others are answers, logged by the span).
fn logged(e: RepoError) -> RepoError {
    match &e {
        RepoError::Internal(m) => tracing::error!(error = %m, "Postgres repository failed"),
        RepoError::Unavailable(m) => tracing::warn!(error = %m, "Postgres unavailable"),
        _ => {}
    }
    e
}

/// A failure in the port's terms.
pub(crate) fn translate(f: Failure, about: About) -> RepoError {
    match f {
        Failure::Repo(e) => e,
        Failure::Pool(e) => RepoError::Unavailable(format!("no database connection: {e}")),
        Failure::Db(e) => translate_db(e, about),
    }
}

/// Deadlocks and serialization failures (and a lost race on the one-selected index, which
/// a fresh attempt resolves) go away when the transaction is run again.
fn is_transient(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name() == Some("bids_one_selected_per_order")
        }
        // tokio-postgres' SQLSTATE 40P01 reaches diesel as `Unknown`; the message is all
        // that tells it (servers report messages in English unless `lc_messages` says otherwise).
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => info.message().contains("deadlock detected"),
        _ => false,
    }
}

fn translate_db(e: DieselError, about: About) -> RepoError {
    match e {
        DieselError::DatabaseError(kind, info) => translate_database_error(kind, info.as_ref(), about),
        DieselError::NotFound => RepoError::Internal("an expected row is missing".into()),
        DieselError::DeserializationError(e) => RepoError::Internal(format!("unreadable stored value: {e}")),
        DieselError::BrokenTransactionManager => {
            RepoError::Unavailable("the connection's transaction state is broken".into())
        }
        other => RepoError::Internal(other.to_string()),
    }
}

fn translate_database_error(
    kind: DatabaseErrorKind,
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    about: About,
) -> RepoError {
    let constraint = info.constraint_name().unwrap_or_default();
    match kind {
        DatabaseErrorKind::UniqueViolation => unique_violation(constraint, about),
        DatabaseErrorKind::ForeignKeyViolation => foreign_key_violation(constraint, about),
        DatabaseErrorKind::SerializationFailure => RepoError::Unavailable(info.message().to_owned()),
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
            RepoError::Unavailable(format!("the database connection failed: {}", info.message()))
        }
        _ if is_cancellation(info.message()) => RepoError::Unavailable(info.message().to_owned()),
        _ if info.message().contains("deadlock detected") => RepoError::Unavailable(info.message().to_owned()),
        _ => RepoError::Internal(match constraint {
            "" => info.message().to_owned(),
            c => format!("{} ({c})", info.message()),
        }),
    }
}

/// A statement cancelled by `statement_timeout`/`lock_timeout` or by an administrator: the
/// store is overloaded or going down, not wrong.
fn is_cancellation(message: &str) -> bool {
    message.starts_with("canceling statement due to")
        || message.starts_with("terminating connection due to")
        || message.contains("the database system is shutting down")
        || message.contains("the database system is starting up")
}

fn unique_violation(constraint: &str, about: About) -> RepoError {
    match constraint {
        "bids_one_active_per_master" => match (about.order_id, about.master_id) {
            (Some(order_id), Some(master_id)) => DomainError::DuplicateActiveBid { order_id, master_id }.into(),
            _ => RepoError::Internal(format!("unique violation of {constraint} without the bid's ids")),
        },
        "users_tg_id_key" => {
            RepoError::Conflict { field: "tg_id".into(), message: "a user with this tg_id exists".into() }
        }
        "users_phone_key" => {
            RepoError::Conflict { field: "phone".into(), message: "the phone number belongs to another user".into() }
        }
        other => {
            let field = field_of(other, "_key").unwrap_or(other);
            RepoError::Conflict { field: field.to_owned(), message: format!("{field} is taken") }
        }
    }
}

fn foreign_key_violation(constraint: &str, about: About) -> RepoError {
    let id = |v: Option<i64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    match field_of(constraint, "_fkey") {
        Some("order_id") => RepoError::not_found("order", id(about.order_id.map(|o| o.0))),
        Some("client_id") => RepoError::not_found("user", id(about.client_id.map(|u| u.0))),
        Some("master_id") => RepoError::not_found("user", id(about.master_id.map(|u| u.0))),
        _ => RepoError::Internal(format!("foreign key violation of {constraint:?}")),
    }
}

/// `users_tg_id_key` → `tg_id`: the constraint name without its table and `suffix`.
fn field_of<'a>(constraint: &'a str, suffix: &str) -> Option<&'a str> {
    let (_, rest) = constraint.split_once('_')?;
    rest.strip_suffix(suffix).filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A database error as the server reports it.
    struct Info {
        message: &'static str,
        constraint: Option<&'static str>,
    }

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn db(kind: DatabaseErrorKind, message: &'static str, constraint: Option<&'static str>) -> Failure {
        Failure::Db(DieselError::DatabaseError(kind, Box::new(Info { message, constraint })))
    }

    fn unique(constraint: &'static str) -> Failure {
        db(DatabaseErrorKind::UniqueViolation, "duplicate key value violates unique constraint", Some(constraint))
    }

    fn fk(constraint: &'static str) -> Failure {
        db(DatabaseErrorKind::ForeignKeyViolation, "violates foreign key constraint", Some(constraint))
    }

    fn serialization() -> Failure {
        db(DatabaseErrorKind::SerializationFailure, "could not serialize access", None)
    }

    fn conflict_field(e: RepoError) -> String {
        match e {
            RepoError::Conflict { field, .. } => field,
            other => panic!("expected Conflict, got {other:?}"),
        }
    }

    #[test]
    fn a_taken_tg_id_is_a_conflict_on_tg_id() {
        assert_eq!(conflict_field(translate(unique("users_tg_id_key"), About::default())), "tg_id");
    }

    #[test]
    fn a_taken_phone_is_a_conflict_on_phone() {
        assert_eq!(conflict_field(translate(unique("users_phone_key"), About::default())), "phone");
    }

    #[test]
    fn another_unique_key_is_a_conflict_on_the_field_its_name_gives() {
        assert_eq!(conflict_field(translate(unique("orders_external_ref_key"), About::default())), "external_ref");
    }

    #[test]
    fn a_second_active_bid_is_duplicate_active_bid_naming_order_and_master() {
        let about = About::new_bid(OrderId(3), UserId(9));
        assert_eq!(
            translate(unique("bids_one_active_per_master"), about),
            RepoError::Domain(DomainError::DuplicateActiveBid { order_id: OrderId(3), master_id: UserId(9) })
        );
    }

    #[test]
    fn a_missing_order_behind_a_bid_is_not_found_order() {
        let about = About::new_bid(OrderId(3), UserId(9));
        assert_eq!(translate(fk("bids_order_id_fkey"), about), RepoError::not_found("order", 3));
    }

    #[test]
    fn a_missing_master_behind_a_bid_is_not_found_user() {
        let about = About::new_bid(OrderId(3), UserId(9));
        assert_eq!(translate(fk("bids_master_id_fkey"), about), RepoError::not_found("user", 9));
    }

    #[test]
    fn a_missing_client_behind_an_order_is_not_found_user() {
        assert_eq!(
            translate(fk("orders_client_id_fkey"), About::new_order(UserId(4))),
            RepoError::not_found("user", 4)
        );
    }

    #[test]
    fn a_statement_timeout_is_unavailable() {
        let f = db(DatabaseErrorKind::Unknown, "canceling statement due to statement timeout", None);
        assert!(matches!(translate(f, About::default()), RepoError::Unavailable(_)));
    }

    #[test]
    fn a_lost_connection_is_unavailable() {
        let f = db(DatabaseErrorKind::ClosedConnection, "connection closed", None);
        assert!(matches!(translate(f, About::default()), RepoError::Unavailable(_)));
    }

    #[test]
    fn a_pool_without_connections_is_unavailable() {
        assert!(matches!(translate(Failure::Pool("timed out".into()), About::default()), RepoError::Unavailable(_)));
    }

    #[test]
    fn a_check_violation_is_internal() {
        let f = db(DatabaseErrorKind::CheckViolation, "violates check constraint", Some("bids_price_non_negative"));
        assert!(matches!(translate(f, About::default()), RepoError::Internal(_)));
    }

    #[test]
    fn an_answer_in_the_ports_terms_is_kept() {
        let e = RepoError::not_found("bid", 1);
        assert_eq!(translate(Failure::Repo(e.clone()), About::default()), e);
    }

    #[tokio::test]
    async fn a_serialization_failure_is_retried_until_the_attempt_succeeds() {
        let calls = AtomicU32::new(0);
        let r = retrying(About::default(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 { Err(serialization()) } else { Ok(7) }
        })
        .await;
        assert_eq!((r, calls.load(Ordering::SeqCst)), (Ok(7), 3));
    }

    #[tokio::test]
    async fn a_deadlock_is_retried() {
        let calls = AtomicU32::new(0);
        let r = retrying(About::default(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(db(DatabaseErrorKind::Unknown, "deadlock detected", None))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!((r, calls.load(Ordering::SeqCst)), (Ok(()), 2));
    }

    #[tokio::test]
    async fn a_conflict_that_persists_is_unavailable_after_three_retries() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retrying(About::default(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(serialization())
        })
        .await;
        assert!(matches!(r, Err(RepoError::Unavailable(_))), "{r:?}");
        assert_eq!(calls.load(Ordering::SeqCst), MAX_RETRIES + 1);
    }

    #[tokio::test]
    async fn a_lost_race_for_the_selected_bid_is_retried() {
        let calls = AtomicU32::new(0);
        let r = retrying(About::default(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 { Err(unique("bids_one_selected_per_order")) } else { Ok(()) }
        })
        .await;
        assert_eq!(r, Ok(()));
    }

    #[tokio::test]
    async fn a_permanent_failure_is_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retrying(About::default(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(unique("users_tg_id_key"))
        })
        .await;
        assert!(matches!(r, Err(RepoError::Conflict { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
