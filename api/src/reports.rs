//! `/reports`: build an analytics report in the background (runs `generate_analytics_report`).

use goodrobot_domain::task::GenerateAnalyticsReport;
use goodrobot_ports::services::TaskOptions;
use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use crate::{
    ApiTags, AppState,
    auth::{Admins, Auth},
    body::JsonBody,
    dto::{CreateReport, TaskAccepted},
    problem::ApiResult,
};

#[derive(Debug, ApiResponse)]
pub enum ReportQueued {
    /// The report is being built; its result is the task's result.
    #[oai(status = 202)]
    Accepted(Json<TaskAccepted>),
}

/// The report endpoints.
#[derive(Debug, Clone)]
pub struct ReportsApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/reports", tag = "ApiTags::Reports")]
impl ReportsApi {
    /// Start an analytics report
    ///
    /// **Roles:** `admin`.
    #[oai(path = "/", method = "post", operation_id = "create_report")]
    async fn create(&self, _auth: Auth<Admins>, body: JsonBody<CreateReport>) -> ApiResult<ReportQueued> {
        let args = body.0.into_args()?;
        let sent = self.state.tasks.submit_typed::<GenerateAnalyticsReport>(&args, TaskOptions::default()).await?;
        self.state.metrics.submitted_task::<GenerateAnalyticsReport>(&sent);
        Ok(ReportQueued::Accepted(Json(sent.into())))
    }
}
