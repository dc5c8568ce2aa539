//! `/tasks`: Celery's `apply_async` over HTTP, task status (optionally waiting for the end),
//! revoke and replay from the dead-letter list.

use goodrobot_domain::{ValidationError, task::TaskId};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use std::time::Duration;
use uuid::Uuid;

use crate::{
    ApiTags, AppState,
    auth::{Admins, Auth, Readers},
    body::JsonBody,
    dto::{SubmitTask, TaskAccepted, TaskDto},
    params::Lenient,
    problem::ApiResult,
};

/// The longest `?wait=` accepted, in seconds.
pub const MAX_WAIT_SECS: f64 = 30.0;

#[derive(Debug, ApiResponse)]
pub enum TaskQueued {
    /// The task is queued (or, with a `dedup_key` already in use, the earlier task is returned).
    #[oai(status = 202)]
    Accepted(Json<TaskAccepted>),
}

#[derive(Debug, ApiResponse)]
pub enum TaskReplayed {
    /// The task left the dead-letter list and is queued again.
    #[oai(status = 202)]
    Accepted(Json<TaskDto>),
}

/// The task endpoints.
#[derive(Debug, Clone)]
pub struct TasksApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/tasks", tag = "ApiTags::Tasks")]
impl TasksApi {
    /// Queue a task by name (Celery's `apply_async`)
    ///
    /// The arguments are checked against the task's contract: an unknown `name` or an
    /// ill-typed argument is a 422 naming the field (`name`, `args.bid_id`, `kwargs.x`).
    /// The arguments may be at most `TASK_MAX_ARGS_BYTES` of JSON (default 64 KiB) and the eta
    /// at most `TASK_ETA_HORIZON_DAYS` ahead (default 30).
    ///
    /// **Roles:** `admin`.
    #[oai(path = "/", method = "post", operation_id = "submit_task")]
    async fn submit(&self, _auth: Auth<Admins>, body: JsonBody<SubmitTask>) -> ApiResult<TaskQueued> {
        let req = body.0.into_request()?;
        let sent = self.state.tasks.submit(&req).await?;
        self.state.metrics.submitted(&req.name, &sent);
        Ok(TaskQueued::Accepted(Json(sent.into())))
    }

    /// Read a task's state, result and timeline
    ///
    /// With `?wait=N` (seconds, at most 30) the answer comes when the task finishes or N
    /// seconds pass, whichever is first.
    ///
    /// **Roles:** `viewer`, `bot`, `admin`.
    #[oai(path = "/:task_id", method = "get", operation_id = "get_task")]
    async fn get(
        &self,
        _auth: Auth<Readers>,
        task_id: Path<Lenient<Uuid>>,
        /// Wait up to this many seconds (0 to 30) for the task to finish.
        wait: Query<Option<f64>>,
    ) -> ApiResult<Json<TaskDto>> {
        let id = TaskId(task_id.0.get("task_id")?);
        let tasks = &self.state.tasks;
        let record = match wait.0 {
            None => tasks.get(id).await?,
            Some(secs) => {
                if !(0.0..=MAX_WAIT_SECS).contains(&secs) {
                    return Err(ValidationError::new("wait", "must be between 0 and 30 seconds").into());
                }
                tokio::select! {
                    r = tasks.wait(id, Duration::from_secs_f64(secs)) => r?,
                    () = self.state.shutdown.cancelled() => tasks.get(id).await?,
                }
            }
        };
        Ok(Json(record.into()))
    }

    /// Revoke a task that has not finished
    ///
    /// 409 `conflict` if it has finished already.
    ///
    /// **Roles:** `admin`.
    #[oai(path = "/:task_id", method = "delete", operation_id = "revoke_task")]
    async fn revoke(&self, _auth: Auth<Admins>, task_id: Path<Lenient<Uuid>>) -> ApiResult<Json<TaskDto>> {
        Ok(Json(self.state.tasks.revoke(TaskId(task_id.0.get("task_id")?)).await?.into()))
    }

    /// Queue a dead-lettered task again
    ///
    /// 404 if the task is not in the dead-letter list.
    ///
    /// **Roles:** `admin`.
    #[oai(path = "/:task_id/replay", method = "post", operation_id = "replay_task")]
    async fn replay(&self, _auth: Auth<Admins>, task_id: Path<Lenient<Uuid>>) -> ApiResult<TaskReplayed> {
        Ok(TaskReplayed::Accepted(Json(self.state.tasks.replay(TaskId(task_id.0.get("task_id")?)).await?.into())))
    }
}
