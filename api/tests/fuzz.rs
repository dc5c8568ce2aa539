//! Property tests over the request surface, bounded (256 cases each): arbitrary JSON and
//! non-JSON bodies on every write, arbitrary ids, queries and headers, and arbitrary paths under
//! `/api/v1`. No answer is a 5xx and nothing panics (a panic would be caught and answered 500).

mod common;

use common::{ADMIN_KEY, BOT_KEY, TestApp, VIEWER_KEY};
use goodrobot_api::rate_limit::RateLimits;
use poem::http::Method;
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use serde_json::{Map, Value};
use std::time::Duration;

const CASES: u32 = 256;

/// Field names of the request bodies, so that most generated objects get past
/// `deny_unknown_fields` and into the checks behind it.
const FIELDS: &[&str] = &[
    "tg_id",
    "role",
    "name",
    "phone",
    "is_active",
    "client_id",
    "category",
    "address",
    "description",
    "when_at",
    "master_id",
    "price",
    "note",
    "args",
    "kwargs",
    "countdown",
    "eta",
    "expires",
    "priority",
    "queue",
    "task_id",
    "max_retries",
    "dedup_key",
    "retry",
    "retry_policy",
    "interval_start",
    "interval_step",
    "interval_max",
    "user_id",
    "message",
    "notification_type",
    "report_type",
    "params",
    "from",
    "to",
    "step",
    "data",
    "ttl_secs",
    "x",
    "bid_id",
    "report_type",
];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![9 => prop::sample::select(FIELDS).prop_map(str::to_owned), 1 => ".{0,12}"]
}

fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-3i64..40).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        (-1e3f64..1e7).prop_map(Value::from),
    ]
}

fn json_string() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(
            &[
                "client",
                "master",
                "admin",
                "partner",
                "info",
                "error",
                "summary",
                "orders_by_status",
                "plumbing",
                "diag.noop",
                "diag.sleep",
                "process_bid_assignment",
                "send_notification",
                "generate_analytics_report",
                "default",
                "+79991234567",
                "2030-01-01T00:00:00Z",
                "1970-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
                "00000000-0000-0000-0000-000000000001",
            ][..]
        )
        .prop_map(Value::from),
        (1usize..3000).prop_map(|n| Value::from("x".repeat(n))),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::from), json_number(), json_string()];
    leaf.prop_recursive(5, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A path parameter: an id that exists, any integer, or any text.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        (1i64..4).prop_map(|i| i.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        Just("00000000-0000-0000-0000-000000000001".to_owned()),
        ".{0,20}".prop_map(|s| encode(&s)),
    ]
}

/// A body: JSON (as sent, or cut short), any text, or nothing.
fn body() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => json().prop_map(|v| Some(v.to_string())),
        1 => (json(), any::<prop::sample::Index>()).prop_map(|(v, i)| {
            let s = v.to_string();
            let cut = i.index(s.len() + 1);
            Some(s.get(..cut).unwrap_or(&s).to_owned())
        }),
        1 => ".{0,60}".prop_map(Some),
        1 => Just(None),
    ]
}

/// The credentials: each role, none, or a made-up key; and whom a bot acts for.
fn credentials() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    let key = prop_oneof![
        4 => Just(Some(format!("Bearer {ADMIN_KEY}"))),
        2 => Just(Some(format!("Bearer {BOT_KEY}"))),
        1 => Just(Some(format!("Bearer {VIEWER_KEY}"))),
        1 => Just(None),
        1 => "[ -~]{0,80}".prop_map(Some),
    ];
    let acting = prop_oneof![
        2 => Just(None),
        2 => (1i64..4).prop_map(|i| Some(i.to_string())),
        1 => "[ -~]{0,30}".prop_map(Some),
    ];
    (key, acting)
}

#[derive(Debug, Clone)]
struct Req {
    method: Method,
    path: String,
    content_type: String,
    body: Option<String>,
    authorization: Option<String>,
    acting: Option<String>,
    request_id: Option<String>,
}

/// Each write: method, path (`{id}` is filled in), and the fields of its body.
const WRITES: &[(&str, &str, &[&str])] = &[
    ("POST", "/users", &["tg_id", "role", "name", "phone"]),
    ("PATCH", "/users/{id}", &["name", "phone", "role", "is_active"]),
    ("PUT", "/users/{id}/state", &["step", "data", "ttl_secs"]),
    ("PATCH", "/users/{id}/state", &["data", "ttl_secs"]),
    ("POST", "/orders", &["client_id", "category", "address", "description", "when_at"]),
    ("POST", "/orders/{id}/bids", &["master_id", "price", "note"]),
    (
        "POST",
        "/tasks",
        &[
            "name",
            "args",
            "kwargs",
            "countdown",
            "eta",
            "expires",
            "priority",
            "queue",
            "task_id",
            "max_retries",
            "dedup_key",
            "retry",
            "retry_policy",
        ],
    ),
    ("POST", "/notifications", &["user_id", "message", "notification_type", "countdown", "eta"]),
    ("POST", "/reports", &["report_type", "params"]),
];

/// An object with some of `fields`, each with any value (mostly a scalar).
fn typed(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        3 => prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::from), json_number(), json_string()],
        1 => json(),
    ];
    prop::collection::vec((any::<bool>(), value), fields.len()).prop_map(move |vals| {
        Value::Object(
            fields.iter().zip(vals).filter(|(_, (keep, _))| *keep).map(|(f, (_, v))| ((*f).to_owned(), v)).collect(),
        )
    })
}

fn write_request() -> impl Strategy<Value = Req> {
    let content_type = prop_oneof![
        8 => Just("application/json".to_owned()),
        1 => Just("application/merge-patch+json; charset=utf-8".to_owned()),
        1 => "[ -~]{0,30}",
    ];
    let route = prop::sample::select(WRITES).prop_flat_map(|(method, path, fields)| {
        let body = prop_oneof![4 => typed(fields).prop_map(|v| Some(v.to_string())), 2 => body()];
        (Just(method), id().prop_map(move |i| path.replace("{id}", &i)), body)
    });
    (route, content_type, credentials(), proptest::option::of("[ -~]{0,70}")).prop_map(
        |((method, path, body), content_type, (authorization, acting), request_id)| Req {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path: format!("/api/v1{path}"),
            content_type,
            body,
            authorization,
            acting,
            request_id,
        },
    )
}

/// Any query value: a small number, any number, or any text.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-2i64..250).prop_map(|i| i.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        prop::sample::select(&["new", "assigned", "done", "cancelled", "plumbing", "NaN", "inf", "-0", ""][..])
            .prop_map(str::to_owned),
        ".{0,20}".prop_map(|s| encode(&s)),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => prop::sample::select(&["after", "limit", "status", "category", "client_id", "master_id"][..])
            .prop_map(str::to_owned),
        1 => ".{0,10}".prop_map(|s| encode(&s)),
    ];
    prop::collection::vec((key, query_value()), 0..4)
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

fn any_request() -> impl Strategy<Value = Req> {
    let method = prop::sample::select(
        &[Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD, Method::OPTIONS][..],
    );
    let segment = prop_oneof![
        3 => prop::sample::select(&["users", "orders", "bids", "tasks", "state", "assign", "cancel", "complete", "replay", "notifications", "reports", "health", "ready"][..])
            .prop_map(str::to_owned),
        2 => id(),
        1 => ".{0,16}".prop_map(|s| encode(&s)),
    ];
    let path = prop::collection::vec(segment, 0..5).prop_map(|s| s.join("/"));
    let wait = prop_oneof![
        3 => Just(None),
        1 => (0.0f64..0.05).prop_map(|w| Some(w.to_string())),
        1 => prop::sample::select(&["-1", "31", "NaN", "inf", "x", "1e308"][..]).prop_map(|w| Some(w.to_owned())),
    ];
    (method, path, query(), wait, body(), credentials(), proptest::option::of("[ -~]{0,70}")).prop_map(
        |(method, path, query, wait, body, (authorization, acting), request_id)| {
            let mut q = query;
            if let Some(w) = wait {
                q = if q.is_empty() { format!("wait={w}") } else { format!("{q}&wait={w}") };
            }
            let path = if q.is_empty() { format!("/api/v1/{path}") } else { format!("/api/v1/{path}?{q}") };
            Req { method, path, content_type: "application/json".to_owned(), body, authorization, acting, request_id }
        },
    )
}

async fn send(app: &TestApp, r: &Req) -> u16 {
    let mut b = app.client.request(r.method.clone(), r.path.clone()).content_type(&r.content_type);
    for (name, value) in
        [("authorization", &r.authorization), ("x-acting-user", &r.acting), ("x-request-id", &r.request_id)]
    {
        if let Some(v) = value {
            b = b.header(name, v.as_str());
        }
    }
    if let Some(body) = &r.body {
        b = b.body(body.clone());
    }
    b.send().await.0.status().as_u16()
}

/// The app with keys, no rate limits, and a client, a master, an order and a bid to find.
fn app(rt: &tokio::runtime::Runtime) -> TestApp {
    rt.block_on(async {
        let app = TestApp::with_keys_and(|s| {
            s.rate_limits = RateLimits { reads: 0, writes: 0, period: Duration::from_secs(60) };
        });
        let client = app.user("client", 1).await;
        let master = app.user("master", 2).await;
        let order = app.order(client).await;
        app.bid(order, master, 100).await;
        app
    })
}

fn run(strategy: impl Strategy<Value = Req>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let app = app(&rt);
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    runner
        .run(&strategy, |req| {
            let status = rt.block_on(send(&app, &req));
            prop_assert!(status < 500, "{status} for {req:#?}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bodies_on_every_write_never_get_a_5xx() {
    run(write_request());
}

#[test]
fn arbitrary_paths_queries_and_headers_never_get_a_5xx() {
    run(any_request());
}
