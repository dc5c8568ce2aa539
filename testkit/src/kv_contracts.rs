//! The contracts of the key-value ports with a TTL: temporary user state ([`StateStore`]) and
//! sessions ([`SessionStore`]).
//!
//! ```text
//! goodrobot_testkit::state_store_contract_tests!(async { StateStoreFixture { store, clock } });
//! goodrobot_testkit::session_store_contract_tests!(async { Arc::new(sessions) as Arc<dyn SessionStore> });
//! ```
//!
//! Expiry is checked by moving a manual clock past the TTL, or on real time by polling (every
//! 10 ms, for at most 5 s past the TTL) until the entry is gone. That something outlives its
//! original TTL is checked against a witness written with that TTL: once the witness is gone,
//! the original TTL has passed.

use chrono::{TimeDelta, Utc};
use goodrobot_domain::UserId;
use goodrobot_ports::{SessionError, SessionStore, StateError, StateStore, UserState};
use serde_json::{Map, Value, json};
use std::{future::Future, sync::Arc, time::Duration};

use crate::TestClock;

/// A fresh state store and how its time passes.
#[derive(Clone)]
pub struct StateStoreFixture {
    pub store: Arc<dyn StateStore>,
    pub clock: TestClock,
}

impl From<Arc<dyn StateStore>> for StateStoreFixture {
    /// A store on real time.
    fn from(store: Arc<dyn StateStore>) -> Self {
        Self { store, clock: TestClock::Real }
    }
}

impl std::fmt::Debug for StateStoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStoreFixture").field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// A fresh session store and how its time passes.
#[derive(Clone)]
pub struct SessionStoreFixture {
    pub store: Arc<dyn SessionStore>,
    pub clock: TestClock,
}

impl From<Arc<dyn SessionStore>> for SessionStoreFixture {
    /// A store on real time.
    fn from(store: Arc<dyn SessionStore>) -> Self {
        Self { store, clock: TestClock::Real }
    }
}

impl std::fmt::Debug for SessionStoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStoreFixture").field("clock", &self.clock).finish_non_exhaustive()
    }
}

const ALICE: UserId = UserId(1);
const BOB: UserId = UserId(2);
const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(300);

/// Lets `ttl` pass, then waits until `gone` holds: a manual clock is moved past `ttl` and
/// `gone` must hold at once; on real time `gone` is polled until it holds (at most 5 s late).
///
/// # Panics
/// If `gone` does not hold in time.
pub async fn wait_until_gone<F, Fut>(clock: &TestClock, ttl: Duration, mut gone: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    if let TestClock::Manual(c) = clock {
        c.advance(ttl + Duration::from_millis(1));
        assert!(gone().await, "still there after its TTL of {ttl:?}");
        return;
    }
    let deadline = tokio::time::Instant::now() + ttl + Duration::from_secs(5);
    while !gone().await {
        assert!(tokio::time::Instant::now() < deadline, "still there 5 s after its TTL of {ttl:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not a JSON object: {other}"),
    }
}

fn state(step: &str, data: Value) -> UserState {
    // Whole microseconds: the precision every store keeps.
    let now = Utc::now();
    let now = now - TimeDelta::nanoseconds(i64::from(now.timestamp_subsec_nanos() % 1000));
    UserState::new(step, data, now).unwrap()
}

// ---- StateStore ----

pub async fn state_put_then_get_returns_it(fx: StateStoreFixture) {
    let s = state(
        "ask_phone",
        json!({
            "name": "Анна", "empty_list": [], "empty_object": {}, "nothing": null,
            "big": 9_007_199_254_740_993_u64, "price": 12.5, "nested": {"tags": ["a", 1, true]}
        }),
    );
    fx.store.put(ALICE, &s, LONG).await.unwrap();
    assert_eq!(fx.store.get(ALICE).await.unwrap(), Some(s));
}

pub async fn state_get_of_a_user_without_state_is_none(fx: StateStoreFixture) {
    assert_eq!(fx.store.get(ALICE).await.unwrap(), None);
}

pub async fn state_users_are_kept_apart(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("a", json!({})), LONG).await.unwrap();
    assert_eq!(fx.store.get(BOB).await.unwrap(), None);
}

pub async fn state_put_replaces_the_whole_previous_state(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("ask_name", json!({"old": 1})), LONG).await.unwrap();
    let new = state("ask_phone", json!({"name": "Анна"}));
    fx.store.put(ALICE, &new, LONG).await.unwrap();
    assert_eq!(fx.store.get(ALICE).await.unwrap(), Some(new));
}

pub async fn state_expires_after_its_ttl(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("ask_phone", json!({})), SHORT).await.unwrap();
    let store = fx.store.clone();
    wait_until_gone(&fx.clock, SHORT, || {
        let store = store.clone();
        async move { store.get(ALICE).await.unwrap().is_none() }
    })
    .await;
}

pub async fn state_patch_merges_the_data_and_keeps_the_step(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("ask_phone", json!({"name": "Анна", "city": "Казань"})), LONG).await.unwrap();
    let patched = fx.store.patch(ALICE, object(json!({"city": "Москва", "phone": "+7900"})), LONG).await.unwrap();
    let patched = patched.expect("the state exists");
    assert_eq!(patched.step(), "ask_phone");
    assert_eq!(Value::Object(patched.data().clone()), json!({"name": "Анна", "city": "Москва", "phone": "+7900"}));
}

pub async fn state_patch_with_null_removes_the_key(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("s", json!({"a": 1, "b": 2})), LONG).await.unwrap();
    let patched = fx.store.patch(ALICE, object(json!({"a": null})), LONG).await.unwrap().unwrap();
    assert_eq!(Value::Object(patched.data().clone()), json!({"b": 2}));
}

pub async fn state_patch_result_is_what_get_then_reads(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("s", json!({"a": [1, {"b": []}]})), LONG).await.unwrap();
    let patched = fx.store.patch(ALICE, object(json!({"c": {"d": null}})), LONG).await.unwrap();
    assert_eq!(fx.store.get(ALICE).await.unwrap(), patched);
}

pub async fn state_patch_stamps_updated_at_with_the_store_clock(fx: StateStoreFixture) {
    let old = UserState::new("s", json!({}), fx.clock.now() - TimeDelta::hours(1)).unwrap();
    fx.store.put(ALICE, &old, LONG).await.unwrap();
    let patched = fx.store.patch(ALICE, object(json!({"a": 1})), LONG).await.unwrap().unwrap();
    assert!(patched.updated_at() > old.updated_at() + TimeDelta::minutes(59), "{patched:?}");
}

pub async fn state_patch_without_state_is_none_and_creates_nothing(fx: StateStoreFixture) {
    assert_eq!(fx.store.patch(ALICE, object(json!({"a": 1})), LONG).await.unwrap(), None);
    assert_eq!(fx.store.get(ALICE).await.unwrap(), None);
}

pub async fn state_patch_sets_the_ttl_anew(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("s", json!({})), SHORT).await.unwrap();
    fx.store.put(BOB, &state("witness", json!({})), SHORT).await.unwrap();
    fx.store.patch(ALICE, object(json!({"a": 1})), LONG).await.unwrap().unwrap();
    let store = fx.store.clone();
    wait_until_gone(&fx.clock, SHORT, || {
        let store = store.clone();
        async move { store.get(BOB).await.unwrap().is_none() }
    })
    .await;
    assert!(fx.store.get(ALICE).await.unwrap().is_some());
}

pub async fn state_clear_removes_it_and_says_there_was_one(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("s", json!({})), LONG).await.unwrap();
    assert!(fx.store.clear(ALICE).await.unwrap());
    assert_eq!(fx.store.get(ALICE).await.unwrap(), None);
}

pub async fn state_clear_without_state_is_false(fx: StateStoreFixture) {
    assert!(!fx.store.clear(ALICE).await.unwrap());
}

pub async fn state_zero_ttl_is_invalid(fx: StateStoreFixture) {
    let e = fx.store.put(ALICE, &state("s", json!({})), Duration::ZERO).await.unwrap_err();
    assert!(matches!(e, StateError::Invalid(_)), "{e:?}");
}

pub async fn state_concurrent_patches_keep_every_key(fx: StateStoreFixture) {
    fx.store.put(ALICE, &state("s", json!({})), LONG).await.unwrap();
    let patches = (0..50).map(|i| {
        let store = fx.store.clone();
        tokio::spawn(async move { store.patch(ALICE, object(json!({ format!("k{i}"): i })), LONG).await })
    });
    for r in futures::future::join_all(patches).await {
        r.expect("patch task").expect("patch").expect("the state exists");
    }
    let data = fx.store.get(ALICE).await.unwrap().unwrap().data().clone();
    assert_eq!(data.len(), 50, "{data:?}");
}

// ---- SessionStore ----

pub async fn session_created_is_found_by_its_token(fx: SessionStoreFixture) {
    let (token, created) = fx.store.create(ALICE, LONG).await.unwrap();
    let found = fx.store.get(&token).await.unwrap().expect("the session");
    assert_eq!(found.user_id, ALICE);
    assert_eq!(found, created);
}

pub async fn session_lasts_its_ttl(fx: SessionStoreFixture) {
    let (_, s) = fx.store.create(ALICE, LONG).await.unwrap();
    assert_eq!(s.expires_at - s.created_at, TimeDelta::from_std(LONG).unwrap());
}

pub async fn session_tokens_are_unique(fx: SessionStoreFixture) {
    let (a, _) = fx.store.create(ALICE, LONG).await.unwrap();
    let (b, _) = fx.store.create(ALICE, LONG).await.unwrap();
    assert_ne!(a, b);
}

pub async fn session_unknown_token_is_none(fx: SessionStoreFixture) {
    fx.store.create(ALICE, LONG).await.unwrap();
    let stranger = goodrobot_ports::SessionToken::generate();
    assert_eq!(fx.store.get(&stranger).await.unwrap(), None);
}

pub async fn session_expires_after_its_ttl(fx: SessionStoreFixture) {
    let (token, _) = fx.store.create(ALICE, SHORT).await.unwrap();
    let store = fx.store.clone();
    wait_until_gone(&fx.clock, SHORT, || {
        let (store, token) = (store.clone(), token.clone());
        async move { store.get(&token).await.unwrap().is_none() }
    })
    .await;
}

pub async fn session_touch_extends_the_expiry(fx: SessionStoreFixture) {
    let (token, created) = fx.store.create(ALICE, SHORT).await.unwrap();
    let (witness, _) = fx.store.create(BOB, SHORT).await.unwrap();
    let touched = fx.store.touch(&token, LONG).await.unwrap().expect("the session is live");
    assert!(touched.expires_at > created.expires_at);
    let store = fx.store.clone();
    wait_until_gone(&fx.clock, SHORT, || {
        let (store, witness) = (store.clone(), witness.clone());
        async move { store.get(&witness).await.unwrap().is_none() }
    })
    .await;
    assert_eq!(fx.store.get(&token).await.unwrap(), Some(touched));
}

pub async fn session_touch_of_an_unknown_token_is_none(fx: SessionStoreFixture) {
    let stranger = goodrobot_ports::SessionToken::generate();
    assert_eq!(fx.store.touch(&stranger, LONG).await.unwrap(), None);
    assert_eq!(fx.store.get(&stranger).await.unwrap(), None);
}

pub async fn session_revoke_ends_only_that_session(fx: SessionStoreFixture) {
    let (a, _) = fx.store.create(ALICE, LONG).await.unwrap();
    let (b, _) = fx.store.create(ALICE, LONG).await.unwrap();
    assert!(fx.store.revoke(&a).await.unwrap());
    assert_eq!(fx.store.get(&a).await.unwrap(), None);
    assert!(fx.store.get(&b).await.unwrap().is_some());
}

pub async fn session_revoke_of_an_unknown_token_is_false(fx: SessionStoreFixture) {
    assert!(!fx.store.revoke(&goodrobot_ports::SessionToken::generate()).await.unwrap());
}

pub async fn session_revoke_all_ends_every_session_of_the_user_only(fx: SessionStoreFixture) {
    let mut alices = Vec::new();
    for _ in 0..3 {
        alices.push(fx.store.create(ALICE, LONG).await.unwrap().0);
    }
    let (bobs, _) = fx.store.create(BOB, LONG).await.unwrap();
    assert_eq!(fx.store.revoke_all(ALICE).await.unwrap(), 3);
    for t in &alices {
        assert_eq!(fx.store.get(t).await.unwrap(), None);
    }
    assert!(fx.store.get(&bobs).await.unwrap().is_some());
}

pub async fn session_revoke_all_counts_only_live_sessions(fx: SessionStoreFixture) {
    let (a, _) = fx.store.create(ALICE, LONG).await.unwrap();
    fx.store.create(ALICE, LONG).await.unwrap();
    fx.store.revoke(&a).await.unwrap();
    assert_eq!(fx.store.revoke_all(ALICE).await.unwrap(), 1);
}

pub async fn session_revoke_all_of_a_user_without_sessions_is_zero(fx: SessionStoreFixture) {
    assert_eq!(fx.store.revoke_all(ALICE).await.unwrap(), 0);
}

pub async fn session_created_after_revoke_all_is_live(fx: SessionStoreFixture) {
    fx.store.create(ALICE, LONG).await.unwrap();
    fx.store.revoke_all(ALICE).await.unwrap();
    let (t, _) = fx.store.create(ALICE, LONG).await.unwrap();
    assert!(fx.store.get(&t).await.unwrap().is_some());
}

pub async fn session_zero_ttl_is_invalid(fx: SessionStoreFixture) {
    let e = fx.store.create(ALICE, Duration::ZERO).await.unwrap_err();
    assert!(matches!(e, SessionError::Invalid(_)), "{e:?}");
}

/// The [`StateStore`] contract; the fixture gives a [`StateStoreFixture`] or an
/// `Arc<dyn StateStore>` (real time).
#[macro_export]
macro_rules! state_store_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(kv_contracts, $fixture;
            single: [
                state_put_then_get_returns_it,
                state_get_of_a_user_without_state_is_none,
                state_users_are_kept_apart,
                state_put_replaces_the_whole_previous_state,
                state_expires_after_its_ttl,
                state_patch_merges_the_data_and_keeps_the_step,
                state_patch_with_null_removes_the_key,
                state_patch_result_is_what_get_then_reads,
                state_patch_stamps_updated_at_with_the_store_clock,
                state_patch_without_state_is_none_and_creates_nothing,
                state_patch_sets_the_ttl_anew,
                state_clear_removes_it_and_says_there_was_one,
                state_clear_without_state_is_false,
                state_zero_ttl_is_invalid,
            ];
            multi: [
                state_concurrent_patches_keep_every_key,
            ]
        );
    };
}

/// The [`SessionStore`] contract; the fixture gives a [`SessionStoreFixture`] or an
/// `Arc<dyn SessionStore>` (real time).
#[macro_export]
macro_rules! session_store_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(kv_contracts, $fixture;
            single: [
                session_created_is_found_by_its_token,
                session_lasts_its_ttl,
                session_tokens_are_unique,
                session_unknown_token_is_none,
                session_expires_after_its_ttl,
                session_touch_extends_the_expiry,
                session_touch_of_an_unknown_token_is_none,
                session_revoke_ends_only_that_session,
                session_revoke_of_an_unknown_token_is_false,
                session_revoke_all_ends_every_session_of_the_user_only,
                session_revoke_all_counts_only_live_sessions,
                session_revoke_all_of_a_user_without_sessions_is_zero,
                session_created_after_revoke_all_is_live,
                session_zero_ttl_is_invalid,
            ];
            multi: []
        );
    };
}
