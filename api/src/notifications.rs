//! `/notifications`: send a message to a user now or later (runs `send_notification`).

use goodrobot_domain::{UserId, task::SendNotification};
use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use crate::{
    ApiTags, AppState,
    auth::{Admins, Auth},
    body::JsonBody,
    dto::{SendNotificationBody, TaskAccepted},
    problem::ApiResult,
};

#[derive(Debug, ApiResponse)]
pub enum NotificationQueued {
    /// The notification is queued; follow `task_id`.
    #[oai(status = 202)]
    Accepted(Json<TaskAccepted>),
}

/// The notification endpoints.
#[derive(Debug, Clone)]
pub struct NotificationsApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/notifications", tag = "ApiTags::Notifications")]
impl NotificationsApi {
    /// Send a notification to a user
    ///
    /// With `countdown` (seconds) or `eta` (a time) it is sent later; the user must exist.
    ///
    /// **Roles:** `admin`.
    #[oai(path = "/", method = "post", operation_id = "send_notification")]
    async fn send(&self, _auth: Auth<Admins>, body: JsonBody<SendNotificationBody>) -> ApiResult<NotificationQueued> {
        let user_id = UserId(body.0.user_id);
        let (args, options) = body.0.into_args()?;
        self.state.users.get(user_id).await?;
        let sent = self.state.tasks.submit_typed::<SendNotification>(&args, options).await?;
        self.state.metrics.submitted_task::<SendNotification>(&sent);
        Ok(NotificationQueued::Accepted(Json(sent.into())))
    }
}
