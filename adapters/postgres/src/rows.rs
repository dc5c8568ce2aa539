//! Rows as stored, and their conversion to domain values: a stored value the domain would
//! refuse is reported as `RepoError::Internal`, never a panic.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use goodrobot_domain::{
    Address, Bid, BidId, BidStatus, Category, Description, Note, Order, OrderId, OrderStatus, PersonName, Phone, Price,
    Role, TgId, User, UserId, ValidationError,
};
use goodrobot_ports::RepoError;

use crate::schema::{bids, orders, users};

/// `Internal` for a stored `entity` row `id` that holds an invalid value.
fn corrupt(entity: &'static str, id: i64) -> impl Fn(ValidationError) -> RepoError {
    move |e| RepoError::Internal(format!("stored {entity} {id} is invalid: {e}"))
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: i64,
    pub tg_id: i64,
    pub role: String,
    pub name: String,
    pub phone: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = RepoError;
    fn try_from(r: UserRow) -> Result<Self, RepoError> {
        let bad = corrupt("user", r.id);
        Ok(User {
            id: UserId(r.id),
            tg_id: TgId::new(r.tg_id).map_err(&bad)?,
            role: r.role.parse::<Role>().map_err(&bad)?,
            name: PersonName::new(&r.name).map_err(&bad)?,
            phone: r.phone.as_deref().map(Phone::new).transpose().map_err(&bad)?,
            is_active: r.is_active,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow<'a> {
    pub tg_id: i64,
    pub role: &'a str,
    pub name: &'a str,
    pub phone: Option<&'a str>,
}

/// The columns a `UserPatch` changes (`None` leaves a column alone; `phone: Some(None)` clears it).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub(crate) struct UserChanges<'a> {
    pub name: Option<&'a str>,
    pub phone: Option<Option<&'a str>>,
    pub role: Option<&'a str>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OrderRow {
    pub id: i64,
    pub client_id: i64,
    pub master_id: Option<i64>,
    pub category: String,
    pub address: String,
    pub description: String,
    pub when_at: DateTime<Utc>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<OrderRow> for Order {
    type Error = RepoError;
    fn try_from(r: OrderRow) -> Result<Self, RepoError> {
        let bad = corrupt("order", r.id);
        Ok(Order {
            id: OrderId(r.id),
            client_id: UserId(r.client_id),
            master_id: r.master_id.map(UserId),
            category: Category::new(&r.category).map_err(&bad)?,
            address: Address::new(&r.address).map_err(&bad)?,
            description: Description::new(&r.description).map_err(&bad)?,
            when_at: r.when_at,
            status: r.status.parse::<OrderStatus>().map_err(&bad)?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = orders)]
pub(crate) struct NewOrderRow<'a> {
    pub client_id: i64,
    pub category: &'a str,
    pub address: &'a str,
    pub description: &'a str,
    pub when_at: DateTime<Utc>,
    pub status: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = bids, check_for_backend(diesel::pg::Pg))]
pub(crate) struct BidRow {
    pub id: i64,
    pub order_id: i64,
    pub master_id: i64,
    pub price: i64,
    pub note: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<BidRow> for Bid {
    type Error = RepoError;
    fn try_from(r: BidRow) -> Result<Self, RepoError> {
        let bad = corrupt("bid", r.id);
        Ok(Bid {
            id: BidId(r.id),
            order_id: OrderId(r.order_id),
            master_id: UserId(r.master_id),
            price: Price::new(r.price).map_err(&bad)?,
            note: Note::new(&r.note).map_err(&bad)?,
            status: BidStatus::parse(&r.status).map_err(&bad)?,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = bids)]
pub(crate) struct NewBidRow<'a> {
    pub order_id: i64,
    pub master_id: i64,
    pub price: i64,
    pub note: &'a str,
    pub status: &'a str,
    pub created_at: DateTime<Utc>,
}

/// Converts every row, or fails on the first invalid one.
pub(crate) fn convert_all<R, T: TryFrom<R, Error = RepoError>>(rows: Vec<R>) -> Result<Vec<T>, RepoError> {
    rows.into_iter().map(T::try_from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_row(name: &str) -> UserRow {
        UserRow {
            id: 5,
            tg_id: 7,
            role: "client".into(),
            name: name.into(),
            phone: None,
            is_active: true,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_valid_user_row_converts() {
        assert_eq!(User::try_from(user_row("Ann")).unwrap().name.as_str(), "Ann");
    }

    #[test]
    fn an_invalid_stored_value_is_internal_naming_the_row() {
        match User::try_from(user_row("")) {
            Err(RepoError::Internal(m)) => assert!(m.contains("user 5"), "{m}"),
            other => panic!("expected Internal, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_stored_status_is_internal() {
        let row = BidRow {
            id: 1,
            order_id: 1,
            master_id: 1,
            price: 1,
            note: String::new(),
            status: "won".into(),
            created_at: Utc::now(),
        };
        assert!(matches!(Bid::try_from(row), Err(RepoError::Internal(_))));
    }
}
