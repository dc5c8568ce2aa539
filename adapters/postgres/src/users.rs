//! `UserRepository` over the `users` table: unique `tg_id` and phone kept by the schema.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use goodrobot_domain::{NewUser, Page, PageRequest, TgId, User, UserId, UserPatch};
use goodrobot_ports::{RepoError, UserRepository};

use crate::error::{About, Failure, retrying};
use crate::rows::{NewUserRow, UserChanges, UserRow, convert_all};
use crate::schema::users;
use crate::store::PgStore;

impl PgStore {
    async fn insert_user(&self, user: &NewUser) -> Result<User, Failure> {
        let row = NewUserRow {
            tg_id: user.tg_id.get(),
            role: user.role.as_str(),
            name: user.name.as_str(),
            phone: user.phone.as_ref().map(|p| p.as_str()),
        };
        let mut conn = self.conn().await?;
        let stored = diesel::insert_into(users::table)
            .values(&row)
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await?;
        Ok(stored.try_into()?)
    }

    async fn find_user(&self, id: UserId) -> Result<User, Failure> {
        let mut conn = self.conn().await?;
        let row = users::table.find(id.0).select(UserRow::as_select()).first(&mut conn).await.optional()?;
        Ok(row.ok_or_else(|| RepoError::not_found("user", id))?.try_into()?)
    }

    /// Served by the unique index on `tg_id`.
    async fn find_user_by_tg_id(&self, tg_id: TgId) -> Result<User, Failure> {
        let mut conn = self.conn().await?;
        let row = users::table
            .filter(users::tg_id.eq(tg_id.get()))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        Ok(row.ok_or_else(|| RepoError::not_found("user", tg_id.get()))?.try_into()?)
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>, Failure> {
        let mut conn = self.conn().await?;
        let rows = users::table
            .filter(users::id.gt(page.after().unwrap_or(0)))
            .order(users::id.asc())
            .limit(i64::from(page.limit()) + 1)
            .select(UserRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(convert_all(rows)?, page, |u: &User| u.id.0))
    }

    async fn update_user(&self, id: UserId, patch: &UserPatch) -> Result<User, Failure> {
        if patch.is_empty() {
            return self.find_user(id).await;
        }
        let changes = UserChanges {
            name: patch.name.as_ref().map(|n| n.as_str()),
            phone: patch.phone.as_ref().map(|p| p.as_ref().map(|p| p.as_str())),
            role: patch.role.map(|r| r.as_str()),
            is_active: patch.is_active,
        };
        let mut conn = self.conn().await?;
        let row = diesel::update(users::table.find(id.0))
            .set(&changes)
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()?;
        Ok(row.ok_or_else(|| RepoError::not_found("user", id))?.try_into()?)
    }
}

#[async_trait]
impl UserRepository for PgStore {
    #[tracing::instrument(name = "pg.users.create", skip_all, fields(tg_id = user.tg_id.get()), err(Display, level = "debug"))]
    async fn create(&self, user: NewUser) -> Result<User, RepoError> {
        retrying(About::default(), || self.insert_user(&user)).await
    }

    #[tracing::instrument(name = "pg.users.get", skip_all, fields(user_id = %id), err(Display, level = "debug"))]
    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        retrying(About::default(), || self.find_user(id)).await
    }

    #[tracing::instrument(name = "pg.users.find_by_tg_id", skip_all, err(Display, level = "debug"))]
    async fn find_by_tg_id(&self, tg_id: TgId) -> Result<User, RepoError> {
        retrying(About::default(), || self.find_user_by_tg_id(tg_id)).await
    }

    #[tracing::instrument(name = "pg.users.list", skip_all, err(Display, level = "debug"))]
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepoError> {
        retrying(About::default(), || self.list_users(page)).await
    }

    #[tracing::instrument(name = "pg.users.update", skip_all, fields(user_id = %id), err(Display, level = "debug"))]
    async fn update(&self, id: UserId, patch: UserPatch) -> Result<User, RepoError> {
        retrying(About::default(), || self.update_user(id, &patch)).await
    }
}
