//! Users in the memory store: unique `tg_id` and phone, kept by two indexes.

use async_trait::async_trait;
use goodrobot_domain::{NewUser, Page, PageRequest, Phone, TgId, User, UserId, UserPatch};
use goodrobot_ports::{RepoError, UserRepository};

use super::{MemoryStore, Tables, keyset_page};

fn phone_taken() -> RepoError {
    RepoError::Conflict { field: "phone".into(), message: "the phone number belongs to another user".into() }
}

impl Tables {
    /// Whether `phone` belongs to a user other than `me`.
    fn phone_taken_by_other(&self, phone: &Phone, me: Option<UserId>) -> bool {
        self.user_by_phone.get(phone).is_some_and(|&owner| Some(owner) != me)
    }
}

#[async_trait]
impl UserRepository for MemoryStore {
    async fn create(&self, user: NewUser) -> Result<User, RepoError> {
        let now = self.clock.now();
        let mut t = self.tables();
        if t.user_by_tg.contains_key(&user.tg_id) {
            return Err(RepoError::Conflict {
                field: "tg_id".into(),
                message: format!("a user with tg_id {} exists", user.tg_id.get()),
            });
        }
        if user.phone.as_ref().is_some_and(|p| t.phone_taken_by_other(p, None)) {
            return Err(phone_taken());
        }
        t.last_user += 1;
        let id = UserId(t.last_user);
        let user = User {
            id,
            tg_id: user.tg_id,
            role: user.role,
            name: user.name,
            phone: user.phone,
            is_active: true,
            created_at: now,
        };
        t.user_by_tg.insert(user.tg_id, id);
        if let Some(p) = &user.phone {
            t.user_by_phone.insert(p.clone(), id);
        }
        t.users.insert(id, user.clone());
        Ok(user)
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        self.tables().users.get(&id).cloned().ok_or_else(|| RepoError::not_found("user", id))
    }

    async fn find_by_tg_id(&self, tg_id: TgId) -> Result<User, RepoError> {
        let t = self.tables();
        t.users.values().find(|u| u.tg_id == tg_id).cloned().ok_or_else(|| RepoError::not_found("user", tg_id.get()))
    }

    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepoError> {
        Ok(keyset_page(&self.tables().users, page, |_| true, |u| u.id.0))
    }

    async fn update(&self, id: UserId, patch: UserPatch) -> Result<User, RepoError> {
        let mut t = self.tables();
        let old_phone = t.users.get(&id).ok_or_else(|| RepoError::not_found("user", id))?.phone.clone();
        if let Some(Some(p)) = &patch.phone
            && t.phone_taken_by_other(p, Some(id))
        {
            return Err(phone_taken());
        }
        let Some(user) = t.users.get_mut(&id) else {
            return Err(RepoError::not_found("user", id));
        };
        patch.apply(user);
        let user = user.clone();
        if old_phone != user.phone {
            if let Some(p) = &old_phone {
                t.user_by_phone.remove(p);
            }
            if let Some(p) = &user.phone {
                t.user_by_phone.insert(p.clone(), id);
            }
        }
        Ok(user)
    }
}
