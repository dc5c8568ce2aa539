//! `/health` (the process answers) and `/ready` (every dependency answers).

use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use std::time::Duration;

use crate::{ApiTags, AppState};

/// How long one dependency may take to answer `/ready`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up.
#[derive(Debug, Clone, Object)]
pub struct Liveness {
    /// Always `ok`.
    pub status: String,
}

/// One dependency's answer.
#[derive(Debug, Clone, Object)]
pub struct DependencyStatus {
    pub name: String,
    pub ok: bool,
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

/// Whether the service can take traffic.
#[derive(Debug, Clone, Object)]
pub struct Readiness {
    /// `ok` or `unavailable`.
    pub status: String,
    /// True when state lives in this process's memory and is lost on exit.
    pub embedded: bool,
    pub dependencies: Vec<DependencyStatus>,
}

#[derive(Debug, ApiResponse)]
pub enum ReadyResponse {
    /// Every dependency answered.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// At least one dependency did not answer.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

/// The health endpoints.
#[derive(Debug, Clone)]
pub struct HealthApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process answers
    ///
    /// **Open:** no API key needed, never rate limited.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<Liveness> {
        Json(Liveness { status: "ok".to_owned() })
    }

    /// Readiness: every dependency answers
    ///
    /// **Open:** no API key needed, never rate limited. A dependency's error is logged; the
    /// answer only says that it did not answer, except what the dependency marks as safe to
    /// show (on a Redis Cluster: the cluster's state and the node that is wrong).
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> ReadyResponse {
        let dependencies: Vec<DependencyStatus> = goodrobot_ports::check_all(&self.state.health, CHECK_TIMEOUT)
            .await
            .into_iter()
            .map(|r| DependencyStatus { name: r.name.to_owned(), ok: r.error.is_none(), error: r.error })
            .collect();
        let ok = dependencies.iter().all(|d| d.ok);
        let body = Readiness {
            status: if ok { "ok" } else { "unavailable" }.to_owned(),
            embedded: self.state.embedded,
            dependencies,
        };
        if ok { ReadyResponse::Ready(Json(body)) } else { ReadyResponse::NotReady(Json(body)) }
    }
}
