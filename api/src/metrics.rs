//! `GET /metrics` in the Prometheus text format (0.0.4): HTTP requests by route template,
//! method and status, their durations, the user cache's lookups, rate-limit refusals and the
//! tasks submitted through the API. Open (like `/health`), outside `/api/v1`, never limited.
//!
//! Every label value comes from a closed set: the route is the matched operation's path
//! template from the OpenAPI document, parameters written `:name` (`/api/v1/users/:id`, never
//! the raw path; braces would trip simple text-format parsers), or
//! else poem's matched route pattern (`/docs`, `/metrics`; `/api/v1` for a request refused
//! before an operation matched), or `unmatched` (a 404, or a handler that panicked); the
//! method is one of the standard ones or `other`; task names are checked against the task
//! contracts before anything is queued.
//!
//! When the API runs an embedded worker (tasks in memory), a scrape also carries that
//! worker's series ([`ApiMetrics::with_worker`]): one process, one `/metrics`. The worker's
//! families are named `goodrobot_worker_*`, the API's never are; should two renderings ever
//! name the same family, [`merge_families`] keeps one HELP/TYPE for it.

use goodrobot_domain::task::TaskContract;
use goodrobot_ports::{CacheStats, services::Submitted};
use goodrobot_worker::WorkerMetrics;
use poem::{
    Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Result,
    http::{Method, StatusCode, header},
};
use poem_openapi::OperationId;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder, core::Collector,
    proto::MetricFamily,
};
use std::{collections::HashMap, sync::Arc, time::Instant};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route label of a request no route matched (404), or whose handler panicked.
pub const UNMATCHED: &str = "unmatched";

/// Bucket bounds (seconds) of the request-duration histogram (long polls wait up to 30 s).
pub const DURATION_BUCKETS: [f64; 13] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The API's instruments (cheap to clone: one shared set), and the metrics of the worker
/// embedded in this process, if one runs here.
#[derive(Clone)]
pub struct ApiMetrics {
    instruments: Arc<Instruments>,
    embedded_worker: Option<WorkerMetrics>,
}

struct Instruments {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    refusals: IntCounterVec,
    submitted: IntCounterVec,
    user_cache: Arc<CacheStats>,
}

impl std::fmt::Debug for ApiMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiMetrics").field("embedded_worker", &self.embedded_worker.is_some()).finish_non_exhaustive()
    }
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A counter family with these labels, registered in `registry`.
fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric definition");
    registry.register(Box::new(c.clone())).expect("a metric name registered once");
    c
}

impl ApiMetrics {
    /// A fresh set of instruments (each app, and each test, has its own: no global registry).
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = counter(
            &registry,
            "goodrobot_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            &["route", "method", "status"],
        );
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "goodrobot_http_request_duration_seconds",
                "Seconds from a request's arrival to its response, by route template and method.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("a valid metric definition");
        registry.register(Box::new(duration.clone())).expect("a metric name registered once");
        let refusals = counter(
            &registry,
            "goodrobot_rate_limit_refusals_total",
            "Requests to /api/v1 refused by the rate limiter, by kind (read, write) and reason \
             (limited: 429; unavailable: 503 while the limiter is down and the policy refuses).",
            &["kind", "reason"],
        );
        let submitted = counter(
            &registry,
            "goodrobot_api_tasks_submitted_total",
            "Tasks submitted through the API, by task name and outcome (queued, or duplicate of a pending \
             task with the same dedup key).",
            &["name", "outcome"],
        );
        let instruments = Instruments { registry, requests, duration, refusals, submitted, user_cache: Arc::default() };
        Self { instruments: Arc::new(instruments), embedded_worker: None }
    }

    /// The same instruments, whose scrapes also carry the series of the worker embedded in
    /// this process (see the module doc).
    #[must_use]
    pub fn with_worker(self, worker: WorkerMetrics) -> Self {
        Self { embedded_worker: Some(worker), ..self }
    }

    /// True when scrapes carry an embedded worker's series.
    pub fn has_worker(&self) -> bool {
        self.embedded_worker.is_some()
    }

    /// The counts the user service keeps of its cache lookups (see `UserService::with_stats`).
    pub fn user_cache(&self) -> Arc<CacheStats> {
        self.instruments.user_cache.clone()
    }

    /// One request answered.
    pub fn request(&self, route: &str, method: &Method, status: StatusCode, seconds: f64) {
        let method = method_label(method);
        self.instruments.requests.with_label_values(&[route, method, status.as_str()]).inc();
        self.instruments.duration.with_label_values(&[route, method]).observe(seconds);
    }

    /// One request refused by the rate limiter (`write`: not a GET/HEAD/OPTIONS).
    pub fn refused(&self, write: bool, limiter_down: bool) {
        let kind = if write { "write" } else { "read" };
        let reason = if limiter_down { "unavailable" } else { "limited" };
        self.instruments.refusals.with_label_values(&[kind, reason]).inc();
    }

    /// One task submitted (`name` is a task contract's name: the submission was checked).
    pub fn submitted(&self, name: &str, sent: &Submitted) {
        let outcome = if sent.duplicate { "duplicate" } else { "queued" };
        self.instruments.submitted.with_label_values(&[name, outcome]).inc();
    }

    /// One task of contract `T` submitted.
    pub fn submitted_task<T: TaskContract>(&self, sent: &Submitted) {
        self.submitted(T::NAME, sent);
    }

    /// A scrape, in the text format: the API's families, then the embedded worker's (it
    /// reads its queues' depths from the broker, with the worker's own short timeout).
    pub async fn render(&self) -> String {
        let mut families = self.instruments.registry.gather();
        families.extend(cache_family("users", &self.instruments.user_cache).collect());
        if let Some(worker) = &self.embedded_worker {
            families = merge_families(families, worker.families().await);
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "metrics could not be rendered");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `ours` followed by `theirs`, one family per name: a family of `theirs` whose name `ours`
/// already has is merged into it (its series added) when the types agree, and dropped, with
/// an error logged, when they do not — a text exposition must not repeat a family's
/// HELP/TYPE, and one name cannot be two types.
pub fn merge_families(ours: Vec<MetricFamily>, theirs: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut out = ours;
    for family in theirs {
        match out.iter_mut().find(|f| f.name() == family.name()) {
            None => out.push(family),
            Some(f) if f.get_field_type() == family.get_field_type() => {
                f.mut_metric().extend(family.get_metric().iter().cloned());
            }
            Some(f) => tracing::error!(
                family = f.name(),
                "two renderings define this metric family with different types: the second is left out"
            ),
        }
    }
    out
}

/// The cache counters of a scrape, read from the use case's atomics.
fn cache_family(cache: &str, stats: &CacheStats) -> IntCounterVec {
    let c = IntCounterVec::new(
        Opts::new("goodrobot_cache_lookups_total", "Cache lookups by cache and result (hit, miss, error)."),
        &["cache", "result"],
    )
    .expect("a valid metric definition");
    for (result, n) in [("hit", stats.hits()), ("miss", stats.misses()), ("error", stats.errors())] {
        c.with_label_values(&[cache, result]).inc_by(n);
    }
    c
}

/// A method as a label: the standard ones by name, anything else `other` (a client may send
/// any token as a method; a label must not take unbounded values).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The `/metrics` endpoint.
#[derive(Debug, Clone)]
pub struct Scrape(pub ApiMetrics);

impl Endpoint for Scrape {
    type Output = Response;

    async fn call(&self, _req: Request) -> Result<Response> {
        Ok(Response::builder().header(header::CONTENT_TYPE, CONTENT_TYPE).body(self.0.render().await))
    }
}

/// Operation id → path template (with `prefix`, the servers' path; `{id}` written `:id`),
/// read from an OpenAPI document in JSON.
pub fn operation_routes(spec_json: &str, prefix: &str) -> HashMap<String, String> {
    let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
    let mut routes = HashMap::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for op in item.as_object().into_iter().flat_map(|ops| ops.values()) {
            if let Some(id) = op["operationId"].as_str() {
                let template = path.replace('{', ":").replace('}', "");
                routes.insert(id.to_owned(), format!("{prefix}{template}"));
            }
        }
    }
    routes
}

/// The middleware counting and timing every request (see the module doc). Sits outside
/// panic catching, so a panic counts as the 500 it is answered with.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    pub metrics: ApiMetrics,
    /// Operation id → path template (see [`operation_routes`]).
    pub routes: Arc<HashMap<String, String>>,
}

impl<E: Endpoint> Middleware<E> for HttpMetrics {
    type Output = HttpMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        HttpMetricsEndpoint { inner: ep, cfg: self.clone() }
    }
}

#[derive(Debug)]
pub struct HttpMetricsEndpoint<E> {
    inner: E,
    cfg: HttpMetrics,
}

impl HttpMetrics {
    /// The route label of a response (see the module doc).
    fn route<'a>(&'a self, operation: Option<&OperationId>, pattern: Option<&'a PathPattern>) -> &'a str {
        operation
            .and_then(|op| self.routes.get(op.0))
            .map(String::as_str)
            .or_else(|| pattern.map(|p| &*p.0))
            .unwrap_or(UNMATCHED)
    }
}

impl<E: Endpoint> Endpoint for HttpMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let method = req.method().clone();
        let result = self.inner.call(req).await.map(IntoResponse::into_response);
        let (status, operation, pattern) = match &result {
            Ok(r) => (r.status(), r.data::<OperationId>(), r.data::<PathPattern>()),
            Err(e) => (e.status(), e.data::<OperationId>(), e.data::<PathPattern>()),
        };
        let route = self.cfg.route(operation, pattern);
        self.cfg.metrics.request(route, &method, status, started.elapsed().as_secs_f64());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_their_path_templates_with_colon_parameters() {
        let spec = r#"{"paths": {"/users/{id}": {"get": {"operationId": "get_user"}, "patch": {"operationId": "update_user"}}}}"#;
        let routes = operation_routes(spec, "/api/v1");
        assert_eq!(routes["get_user"], "/api/v1/users/:id");
        assert_eq!(routes["update_user"], "/api/v1/users/:id");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    #[tokio::test]
    async fn cache_lookups_are_rendered_as_counters_from_the_use_case_counts() {
        let m = ApiMetrics::new();
        m.user_cache().hit();
        m.user_cache().miss();
        m.user_cache().miss();
        let text = m.render().await;
        assert!(text.contains("# TYPE goodrobot_cache_lookups_total counter\n"), "{text}");
        assert!(text.contains("goodrobot_cache_lookups_total{cache=\"users\",result=\"hit\"} 1\n"), "{text}");
        assert!(text.contains("goodrobot_cache_lookups_total{cache=\"users\",result=\"miss\"} 2\n"), "{text}");
    }

    fn family(name: &str, labels: &[(&str, &str)]) -> MetricFamily {
        let c =
            IntCounterVec::new(Opts::new(name, "help"), &labels.iter().map(|(k, _)| *k).collect::<Vec<_>>()).unwrap();
        c.with_label_values(&labels.iter().map(|(_, v)| *v).collect::<Vec<_>>()).inc();
        c.collect().remove(0)
    }

    #[test]
    fn a_family_named_twice_is_rendered_once_with_the_series_of_both() {
        let ours = vec![family("goodrobot_x_total", &[("by", "api")])];
        let theirs = vec![family("goodrobot_x_total", &[("by", "worker")]), family("goodrobot_y_total", &[])];
        let merged = merge_families(ours, theirs);
        assert_eq!(
            merged.iter().map(MetricFamily::name).collect::<Vec<_>>(),
            ["goodrobot_x_total", "goodrobot_y_total"]
        );
        assert_eq!(merged[0].get_metric().len(), 2);
        let mut out = Vec::new();
        TextEncoder::new().encode(&merged, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("# TYPE goodrobot_x_total ").count(), 1, "{text}");
    }

    #[test]
    fn a_family_of_another_type_under_a_taken_name_is_left_out() {
        let gauge = prometheus::IntGauge::new("goodrobot_x_total", "help").unwrap();
        let merged = merge_families(vec![family("goodrobot_x_total", &[])], gauge.collect());
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].get_field_type(), prometheus::proto::MetricType::COUNTER);
    }
}
