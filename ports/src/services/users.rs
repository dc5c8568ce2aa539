//! Users: create, read (cache-aside, 1 h), list, update (invalidates the cache).

use goodrobot_domain::{NewUser, Page, PageRequest, TgId, User, UserId, UserPatch, ValidationError};
use std::{sync::Arc, time::Duration};

use super::AppError;
use crate::{Cache, CacheExt, CacheStats, UserRepository};

/// How long a user stays in the cache (the old service cached for an hour).
pub const USER_CACHE_TTL: Duration = Duration::from_secs(3600);

/// The user use cases.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    cache: Arc<dyn Cache>,
    stats: Arc<CacheStats>,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

/// The cache key of a user.
pub fn user_cache_key(id: UserId) -> String {
    format!("user:{id}")
}

impl UserService {
    pub fn new(users: Arc<dyn UserRepository>, cache: Arc<dyn Cache>) -> Self {
        Self { users, cache, stats: Arc::default() }
    }

    /// The same service, counting its cache lookups in `stats` (for metrics).
    #[must_use]
    pub fn with_stats(self, stats: Arc<CacheStats>) -> Self {
        Self { stats, ..self }
    }

    /// # Errors
    /// `Conflict` on a taken `tg_id` or phone.
    #[tracing::instrument(skip_all, err)]
    pub async fn create(&self, user: NewUser) -> Result<User, AppError> {
        Ok(self.users.create(user).await?)
    }

    /// Reads the cache first; on a miss (or a cache failure, which is logged) reads the
    /// repository and fills the cache for an hour. Each lookup counts as a hit, a miss or an
    /// error in the service's [`CacheStats`].
    ///
    /// # Errors
    /// `NotFound`.
    #[tracing::instrument(skip(self), err)]
    pub async fn get(&self, id: UserId) -> Result<User, AppError> {
        let key = user_cache_key(id);
        match self.cache.get_cache::<User>(&key).await {
            Ok(Some(u)) => {
                self.stats.hit();
                return Ok(u);
            }
            Ok(None) => self.stats.miss(),
            Err(e) => {
                self.stats.error();
                tracing::warn!(error = %e, "cache read failed; reading the repository");
            }
        }
        let user = self.users.get(id).await?;
        if let Err(e) = self.cache.set_cache(&key, &user, Some(USER_CACHE_TTL)).await {
            tracing::warn!(error = %e, "cache fill failed");
        }
        Ok(user)
    }

    /// The user a Telegram id belongs to (from the repository, by its unique index; what a
    /// bot knows of who writes to it is this id).
    ///
    /// # Errors
    /// `NotFound`.
    #[tracing::instrument(skip(self), err)]
    pub async fn find_by_tg_id(&self, tg_id: TgId) -> Result<User, AppError> {
        Ok(self.users.find_by_tg_id(tg_id).await?)
    }

    /// # Errors
    /// Repository failures.
    pub async fn list(&self, page: PageRequest) -> Result<Page<User>, AppError> {
        Ok(self.users.list(page).await?)
    }

    /// Updates a user and drops its cached copy.
    ///
    /// # Errors
    /// `Invalid` for an empty patch; `NotFound`; `Conflict` on a taken phone.
    #[tracing::instrument(skip(self, patch), err)]
    pub async fn update(&self, id: UserId, patch: UserPatch) -> Result<User, AppError> {
        if patch.is_empty() {
            return Err(ValidationError::new("body", "names no field to change").into());
        }
        let user = self.users.update(id, patch).await?;
        if let Err(e) = self.cache.invalidate_cache(&user_cache_key(id)).await {
            // A stale entry would be served for up to an hour: say so loudly.
            tracing::error!(error = %e, user_id = %id, "cache invalidation failed");
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CacheError, RepoError, cache::MockCache, repository::MockUserRepository};
    use goodrobot_domain::{PersonName, Role};
    use mockall::predicate::eq;

    fn user() -> User {
        User {
            id: UserId(1),
            tg_id: TgId::new(10).unwrap(),
            role: Role::Client,
            name: PersonName::new("Ann").unwrap(),
            phone: None,
            is_active: true,
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn get_user_reads_the_cache_first() {
        let mut cache = MockCache::new();
        let json = serde_json::to_string(&user()).unwrap();
        cache.expect_get_key().with(eq("user:1")).returning(move |_| Ok(Some(json.clone())));
        let repo = MockUserRepository::new(); // no call expected
        let svc = UserService::new(Arc::new(repo), Arc::new(cache));
        assert_eq!(svc.get(UserId(1)).await.unwrap(), user());
    }

    #[tokio::test]
    async fn get_user_falls_back_to_the_repository_and_fills_the_cache_for_an_hour() {
        let mut cache = MockCache::new();
        cache.expect_get_key().returning(|_| Ok(None));
        cache
            .expect_set_key()
            .withf(|k, _, ttl| k == "user:1" && *ttl == Some(USER_CACHE_TTL))
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut repo = MockUserRepository::new();
        repo.expect_get().with(eq(UserId(1))).times(1).returning(|_| Ok(user()));
        let svc = UserService::new(Arc::new(repo), Arc::new(cache));
        assert_eq!(svc.get(UserId(1)).await.unwrap(), user());
    }

    #[tokio::test]
    async fn get_user_survives_a_cache_failure() {
        let mut cache = MockCache::new();
        cache.expect_get_key().returning(|_| Err(CacheError::Unavailable("down".into())));
        cache.expect_set_key().returning(|_, _, _| Err(CacheError::Unavailable("down".into())));
        let mut repo = MockUserRepository::new();
        repo.expect_get().times(1).returning(|_| Ok(user()));
        let svc = UserService::new(Arc::new(repo), Arc::new(cache));
        assert_eq!(svc.get(UserId(1)).await.unwrap(), user());
    }

    #[tokio::test]
    async fn a_cached_user_counts_as_a_hit_and_an_uncached_one_as_a_miss() {
        let mut cache = MockCache::new();
        let json = serde_json::to_string(&user()).unwrap();
        let mut cached = false;
        cache.expect_get_key().returning(move |_| {
            let v = cached.then(|| json.clone());
            cached = true;
            Ok(v)
        });
        cache.expect_set_key().returning(|_, _, _| Ok(()));
        let mut repo = MockUserRepository::new();
        repo.expect_get().times(1).returning(|_| Ok(user()));
        let stats = Arc::new(CacheStats::default());
        let svc = UserService::new(Arc::new(repo), Arc::new(cache)).with_stats(stats.clone());
        svc.get(UserId(1)).await.unwrap();
        svc.get(UserId(1)).await.unwrap();
        assert_eq!((stats.hits(), stats.misses(), stats.errors()), (1, 1, 0));
    }

    #[tokio::test]
    async fn a_failed_cache_read_counts_as_an_error_not_a_miss() {
        let mut cache = MockCache::new();
        cache.expect_get_key().returning(|_| Err(CacheError::Unavailable("down".into())));
        cache.expect_set_key().returning(|_, _, _| Ok(()));
        let mut repo = MockUserRepository::new();
        repo.expect_get().returning(|_| Ok(user()));
        let stats = Arc::new(CacheStats::default());
        let svc = UserService::new(Arc::new(repo), Arc::new(cache)).with_stats(stats.clone());
        svc.get(UserId(1)).await.unwrap();
        assert_eq!((stats.hits(), stats.misses(), stats.errors()), (0, 0, 1));
    }

    #[tokio::test]
    async fn missing_user_is_not_found() {
        let mut cache = MockCache::new();
        cache.expect_get_key().returning(|_| Ok(None));
        let mut repo = MockUserRepository::new();
        repo.expect_get().returning(|id| Err(RepoError::not_found("user", id)));
        let svc = UserService::new(Arc::new(repo), Arc::new(cache));
        assert!(matches!(svc.get(UserId(9)).await, Err(AppError::NotFound { entity: "user", .. })));
    }

    #[tokio::test]
    async fn update_invalidates_the_cached_user() {
        let mut cache = MockCache::new();
        cache.expect_delete_key().with(eq("user:1")).times(1).returning(|_| Ok(true));
        let mut repo = MockUserRepository::new();
        repo.expect_update().times(1).returning(|_, _| Ok(user()));
        let svc = UserService::new(Arc::new(repo), Arc::new(cache));
        let patch = UserPatch { is_active: Some(false), ..Default::default() };
        svc.update(UserId(1), patch).await.unwrap();
    }

    #[tokio::test]
    async fn an_empty_patch_is_refused() {
        let svc = UserService::new(Arc::new(MockUserRepository::new()), Arc::new(MockCache::new()));
        assert!(matches!(svc.update(UserId(1), UserPatch::default()).await, Err(AppError::Invalid(_))));
    }
}
