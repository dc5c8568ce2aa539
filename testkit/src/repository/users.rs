//! Users: unique `tg_id` and phone, patches, keyset pagination.

use goodrobot_domain::{PageRequest, PersonName, Phone, Role, TgId, UserId, UserPatch};

use super::{RepoFixture, assert_conflict, assert_not_found, user};
use crate::builders::{new_user, new_user_with_phone};

pub async fn user_create_then_get_returns_it(fx: RepoFixture) {
    let created = fx.users.create(new_user_with_phone(7, Role::Master, "+79990000007")).await.unwrap();
    assert_eq!((created.tg_id.get(), created.role, created.is_active), (7, Role::Master, true));
    assert_eq!(fx.users.get(created.id).await.unwrap(), created);
}

pub async fn user_get_of_a_missing_id_is_not_found(fx: RepoFixture) {
    assert_not_found(fx.users.get(UserId(999_999)).await, "user");
}

pub async fn user_found_by_tg_id_is_that_user_and_an_unknown_one_is_not_found(fx: RepoFixture) {
    let first = user(&fx, 7, Role::Client).await;
    let second = user(&fx, 8, Role::Master).await;
    assert_eq!(fx.users.find_by_tg_id(TgId::new(8).unwrap()).await.unwrap(), second);
    assert_eq!(fx.users.find_by_tg_id(TgId::new(7).unwrap()).await.unwrap(), first);
    assert_not_found(fx.users.find_by_tg_id(TgId::new(9).unwrap()).await, "user");
}

pub async fn user_duplicate_tg_id_is_a_conflict_on_tg_id(fx: RepoFixture) {
    user(&fx, 7, Role::Client).await;
    assert_conflict(fx.users.create(new_user(7, Role::Master)).await, "tg_id");
}

pub async fn user_duplicate_phone_is_a_conflict_on_phone(fx: RepoFixture) {
    fx.users.create(new_user_with_phone(1, Role::Client, "+79990000001")).await.unwrap();
    assert_conflict(fx.users.create(new_user_with_phone(2, Role::Client, "+79990000001")).await, "phone");
}

pub async fn user_update_applies_the_patch(fx: RepoFixture) {
    let u = fx.users.create(new_user_with_phone(1, Role::Client, "+79990000001")).await.unwrap();
    let patch = UserPatch {
        name: Some(PersonName::new("Anna").unwrap()),
        phone: Some(None),
        role: Some(Role::Master),
        is_active: Some(false),
    };
    let updated = fx.users.update(u.id, patch).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.phone.as_ref(), updated.role, updated.is_active),
        ("Anna", None, Role::Master, false)
    );
    assert_eq!(fx.users.get(u.id).await.unwrap(), updated);
}

pub async fn user_update_to_a_taken_phone_is_a_conflict_on_phone(fx: RepoFixture) {
    fx.users.create(new_user_with_phone(1, Role::Client, "+79990000001")).await.unwrap();
    let other = user(&fx, 2, Role::Client).await;
    let patch = UserPatch { phone: Some(Some(Phone::new("+79990000001").unwrap())), ..UserPatch::default() };
    assert_conflict(fx.users.update(other.id, patch).await, "phone");
}

pub async fn user_phone_freed_by_an_update_can_be_taken(fx: RepoFixture) {
    let first = fx.users.create(new_user_with_phone(1, Role::Client, "+79990000001")).await.unwrap();
    fx.users.update(first.id, UserPatch { phone: Some(None), ..UserPatch::default() }).await.unwrap();
    let second = fx.users.create(new_user_with_phone(2, Role::Client, "+79990000001")).await;
    assert_eq!(second.unwrap().phone.unwrap().as_str(), "+79990000001");
}

pub async fn user_update_of_a_missing_id_is_not_found(fx: RepoFixture) {
    let patch = UserPatch { is_active: Some(false), ..UserPatch::default() };
    assert_not_found(fx.users.update(UserId(999_999), patch).await, "user");
}

pub async fn user_list_pages_are_stable_under_inserts(fx: RepoFixture) {
    let mut created = Vec::new();
    for tg in 1..=5 {
        created.push(user(&fx, tg, Role::Client).await.id);
    }
    let first = fx.users.list(PageRequest::new(None, Some(2)).unwrap()).await.unwrap();
    for tg in 6..=7 {
        created.push(user(&fx, tg, Role::Client).await.id);
    }
    let mut seen: Vec<UserId> = first.items.iter().map(|u| u.id).collect();
    let mut after = first.next_after;
    while let Some(a) = after {
        let page = fx.users.list(PageRequest::new(Some(a), Some(2)).unwrap()).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|u| u.id));
        after = page.next_after;
    }
    assert_eq!(seen, created, "every user once, in id order");
}
