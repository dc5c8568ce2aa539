//! The JSON API behind the pages (poem-openapi, served under `/api`, described at
//! `/openapi.json`). Every endpoint needs the session cookie; every action also needs the
//! session's CSRF token in the `X-CSRF-Token` header (see `GET /api/session`).

use chrono::{DateTime, Utc};
use goodrobot_domain::task::TaskId;
use poem::{Request, web::Data};
use poem_openapi::{
    Object, OpenApi, Tags,
    param::{Header, Path, Query},
    payload::Json,
};

use crate::{
    actions,
    auth::Authed,
    model::{ActionView, OverviewView, PurgeView, QueueView, TaskDetailView, TaskPageView, WorkerView},
    problem::{ApiResult, Problem, ProblemExt},
    read::{
        overview::{overview, queues, workers},
        task_detail::detail,
        task_index::{RawFilter, list},
    },
    state::MonitorState,
};

#[derive(Tags)]
enum MonitorTags {
    /// Workers, queues and rates.
    Overview,
    /// The task list, a task's detail and the actions on tasks and queues.
    Tasks,
    /// The logged-in session.
    Session,
}

/// The logged-in session.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Session")]
pub struct SessionView {
    pub user: String,
    /// Send it back in the `X-CSRF-Token` header of every action.
    pub csrf_token: String,
    /// When the session ends unless used again (each request extends it).
    pub expires_at: DateTime<Utc>,
}

fn authed(req: &Request) -> ApiResult<&Authed> {
    req.extensions().get::<Authed>().ok_or_else(Problem::unauthenticated)
}

fn task_id(raw: &str) -> ApiResult<TaskId> {
    TaskId::parse(raw).map_err(Problem::from)
}

/// The monitor's JSON API.
#[derive(Debug, Clone)]
pub struct MonitorApi;

#[OpenApi]
impl MonitorApi {
    /// Workers, queue depths and rates in one answer (what the overview polls)
    #[oai(path = "/overview", method = "get", operation_id = "overview", tag = "MonitorTags::Overview")]
    async fn overview(&self, state: Data<&MonitorState>) -> ApiResult<Json<OverviewView>> {
        Ok(Json(overview(&state).await?))
    }

    /// Workers whose heartbeat has not expired
    #[oai(path = "/workers", method = "get", operation_id = "list_workers", tag = "MonitorTags::Overview")]
    async fn workers(&self, state: Data<&MonitorState>) -> ApiResult<Json<Vec<WorkerView>>> {
        Ok(Json(workers(&state).await?))
    }

    /// Depths of the monitored queues (`MONITOR_QUEUES`)
    #[oai(path = "/queues", method = "get", operation_id = "list_queues", tag = "MonitorTags::Overview")]
    async fn queues(&self, state: Data<&MonitorState>) -> ApiResult<Json<Vec<QueueView>>> {
        Ok(Json(queues(&state).await?))
    }

    /// Tasks of the recent event window, newest activity first
    ///
    /// The index is the event log (`MONITOR_EVENT_WINDOW` events, one entry per task);
    /// each task's state, arguments and result come from its record.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/tasks", method = "get", operation_id = "list_tasks", tag = "MonitorTags::Tasks")]
    async fn tasks(
        &self,
        state: Data<&MonitorState>,
        /// PENDING, RECEIVED, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE or REVOKED.
        #[oai(name = "state")]
        task_state: Query<Option<String>>,
        /// Task name, exactly (`diag.noop`).
        name: Query<Option<String>>,
        /// Queue, exactly.
        queue: Query<Option<String>>,
        /// Worker id, exactly.
        worker: Query<Option<String>>,
        /// Newest activity at or after: RFC 3339, or an age such as `15m`, `2h`, `7d`.
        since: Query<Option<String>>,
        /// Newest activity at or before: RFC 3339, or an age.
        until: Query<Option<String>>,
        /// Text to find in the task id, arguments, result or error (case-insensitive).
        q: Query<Option<String>>,
        /// Page number, from 1.
        page: Query<Option<String>>,
        /// Tasks per page (1 to 200, default 50).
        per_page: Query<Option<String>>,
    ) -> ApiResult<Json<TaskPageView>> {
        let raw = RawFilter {
            state: task_state.0,
            name: name.0,
            queue: queue.0,
            worker: worker.0,
            since: since.0,
            until: until.0,
            q: q.0,
            page: page.0,
            per_page: per_page.0,
        };
        let (filter, page, per_page) = raw.parse(state.deps.clock.now())?;
        Ok(Json(list(&state, &filter, page, per_page).await?))
    }

    /// A task: arguments, result or error, retries, timeline, parent and children
    #[oai(path = "/tasks/:task_id", method = "get", operation_id = "get_task", tag = "MonitorTags::Tasks")]
    async fn task(&self, state: Data<&MonitorState>, task_id: Path<String>) -> ApiResult<Json<TaskDetailView>> {
        Ok(Json(detail(&state, self::task_id(&task_id)?).await?))
    }

    /// Revoke a task that has not finished
    #[oai(path = "/tasks/:task_id/revoke", method = "post", operation_id = "revoke_task", tag = "MonitorTags::Tasks")]
    async fn revoke(
        &self,
        state: Data<&MonitorState>,
        task_id: Path<String>,
        /// The session's CSRF token.
        #[oai(name = "X-CSRF-Token")]
        _csrf: Header<String>,
    ) -> ApiResult<Json<ActionView>> {
        Ok(Json(actions::revoke(&state, self::task_id(&task_id)?).await?))
    }

    /// Replay a failed task from the dead-letter list (same id, retries reset)
    #[oai(path = "/tasks/:task_id/replay", method = "post", operation_id = "replay_task", tag = "MonitorTags::Tasks")]
    async fn replay(
        &self,
        state: Data<&MonitorState>,
        task_id: Path<String>,
        /// The session's CSRF token.
        #[oai(name = "X-CSRF-Token")]
        _csrf: Header<String>,
    ) -> ApiResult<Json<ActionView>> {
        Ok(Json(actions::replay(&state, self::task_id(&task_id)?).await?))
    }

    /// Queue a new task with the name, arguments and queue of a failed or revoked one
    #[oai(path = "/tasks/:task_id/retry", method = "post", operation_id = "retry_task", tag = "MonitorTags::Tasks")]
    async fn retry(
        &self,
        state: Data<&MonitorState>,
        task_id: Path<String>,
        /// The session's CSRF token.
        #[oai(name = "X-CSRF-Token")]
        _csrf: Header<String>,
    ) -> ApiResult<Json<ActionView>> {
        Ok(Json(actions::retry(&state, self::task_id(&task_id)?).await?))
    }

    /// Remove every ready and delayed task of a queue
    ///
    /// `confirm` must repeat the queue's name. Running and dead-lettered tasks stay.
    #[oai(path = "/queues/:queue/purge", method = "post", operation_id = "purge_queue", tag = "MonitorTags::Tasks")]
    async fn purge(
        &self,
        state: Data<&MonitorState>,
        queue: Path<String>,
        /// The queue's name again.
        confirm: Query<Option<String>>,
        /// The session's CSRF token.
        #[oai(name = "X-CSRF-Token")]
        _csrf: Header<String>,
    ) -> ApiResult<Json<PurgeView>> {
        Ok(Json(actions::purge(&state, &queue, confirm.0.as_deref()).await?))
    }

    /// The logged-in session and its CSRF token
    #[oai(path = "/session", method = "get", operation_id = "get_session", tag = "MonitorTags::Session")]
    async fn session(&self, state: Data<&MonitorState>, req: &Request) -> ApiResult<Json<SessionView>> {
        let a = authed(req)?;
        Ok(Json(SessionView {
            user: state.config.admin_user.clone(),
            csrf_token: a.csrf.clone(),
            expires_at: a.expires_at,
        }))
    }
}
