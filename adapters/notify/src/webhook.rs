//! A notifier that POSTs each notification as JSON to an HTTP(S) endpoint, with the task id as
//! its idempotency key and, when a secret is configured, an HMAC-SHA256 signature of the body.

use async_trait::async_trait;
use goodrobot_domain::{UserId, task::NotificationType, task::TaskId};
use goodrobot_ports::{Notification, Notifier, NotifyError, NotifyReceipt};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{StatusCode, Url, header};
use serde::Serialize;
use sha2::Sha256;
use std::{error::Error as _, fmt::Write as _, time::Duration};

/// Where and how to deliver.
#[derive(Clone)]
pub struct WebhookConfig {
    /// `http` or `https`; credentials in it are sent as basic auth and never logged.
    pub url: String,
    /// For the whole request, connecting included ([`WebhookConfig::DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Signs each body (`X-Signature: sha256=<hex>`) when set.
    pub secret: Option<String>,
}

impl WebhookConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// `url` with the default timeout and no secret.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), timeout: Self::DEFAULT_TIMEOUT, secret: None }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials and the secret is one: print neither.
        f.debug_struct("WebhookConfig")
            .field("timeout", &self.timeout)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The webhook could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    #[error("invalid webhook URL: {0}")]
    BadUrl(&'static str),
    #[error("webhook timeout must be positive")]
    ZeroTimeout,
    #[error("webhook client could not be built")]
    Client,
}

/// [`Notifier`] over HTTP: 2xx delivers (channel `webhook`); 5xx, 408, 429, timeouts and
/// connection errors are transient; any other answer is permanent. Redirects are not followed.
#[derive(Clone)]
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: Url,
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier").field("host", &self.url.host_str()).finish_non_exhaustive()
    }
}

/// What the endpoint receives.
#[derive(Serialize)]
struct Body<'a> {
    user_id: UserId,
    tg_id: Option<i64>,
    message: &'a str,
    notification_type: NotificationType,
    task_id: TaskId,
}

impl WebhookNotifier {
    pub const CHANNEL: &'static str = "webhook";

    /// # Errors
    /// A URL that does not parse, is not `http`/`https` or has no host; a zero timeout.
    pub fn new(cfg: WebhookConfig) -> Result<Self, WebhookConfigError> {
        // `Url`'s parse errors never echo the input, so they cannot leak credentials.
        let url = Url::parse(&cfg.url).map_err(|_| WebhookConfigError::BadUrl("not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookConfigError::BadUrl("the scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookConfigError::BadUrl("no host"));
        }
        if cfg.timeout.is_zero() {
            return Err(WebhookConfigError::ZeroTimeout);
        }
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("goodrobot-webhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| WebhookConfigError::Client)?;
        Ok(Self { client, url, secret: cfg.secret.map(String::into_bytes) })
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let mut out = String::from("sha256=");
    for b in mac.finalize().into_bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A secret-free description of a failed request: its kind and the causes below reqwest
/// (reqwest's own message names the URL, credentials included).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut cause = e.source();
    while let Some(c) = cause {
        let _ = write!(text, ": {c}");
        cause = c.source();
    }
    text
}

fn classify(status: StatusCode) -> Result<(), NotifyError> {
    if status.is_success() {
        Ok(())
    } else if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Err(NotifyError::Transient(format!("webhook answered {status}")))
    } else {
        Err(NotifyError::Permanent(format!("webhook answered {status}")))
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    #[tracing::instrument(skip_all, fields(task_id = %n.task_id, host = self.url.host_str()), err)]
    async fn notify(&self, n: &Notification) -> Result<NotifyReceipt, NotifyError> {
        let body = serde_json::to_vec(&Body {
            user_id: n.user_id,
            tg_id: n.tg_id,
            message: &n.message,
            notification_type: n.notification_type,
            task_id: n.task_id,
        })
        .map_err(|e| NotifyError::Permanent(format!("notification not encodable: {e}")))?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", n.task_id.to_string());
        if let Some(secret) = &self.secret {
            request = request.header("X-Signature", signature(secret, &body));
        }
        let response = request.body(body).send().await.map_err(|e| {
            let text = describe(&e);
            // A request that never got an answer may succeed when tried again; one reqwest
            // could not even build (a bad header) will not.
            if e.is_builder() { NotifyError::Permanent(text) } else { NotifyError::Transient(text) }
        })?;
        classify(response.status())?;
        Ok(NotifyReceipt { channel: Self::CHANNEL.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_rfc_4231_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn statuses_are_classified_as_the_channel_answers() {
        assert_eq!(classify(StatusCode::NO_CONTENT), Ok(()));
        for transient in [500, 502, 503, 408, 429] {
            let status = StatusCode::from_u16(transient).unwrap();
            assert!(matches!(classify(status), Err(NotifyError::Transient(_))), "{status}");
        }
        for permanent in [301, 400, 401, 404, 410, 422] {
            let status = StatusCode::from_u16(permanent).unwrap();
            assert!(matches!(classify(status), Err(NotifyError::Permanent(_))), "{status}");
        }
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        for bad in ["not a url", "ftp://example.com/hook", "file:///etc/passwd", "http://", "mailto:a@b.c"] {
            assert!(
                matches!(WebhookNotifier::new(WebhookConfig::new(bad)), Err(WebhookConfigError::BadUrl(_))),
                "{bad}"
            );
        }
        for good in ["http://127.0.0.1:8080/hook", "https://user:pw@example.com/notify?x=1"] {
            WebhookNotifier::new(WebhookConfig::new(good)).unwrap();
        }
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let cfg = WebhookConfig { timeout: Duration::ZERO, ..WebhookConfig::new("http://127.0.0.1/") };
        assert_eq!(WebhookNotifier::new(cfg).unwrap_err(), WebhookConfigError::ZeroTimeout);
    }

    #[test]
    fn debug_output_shows_neither_credentials_nor_the_secret() {
        let cfg =
            WebhookConfig { secret: Some("s3cret".into()), ..WebhookConfig::new("https://u:hunter2@example.com/") };
        let shown = format!("{cfg:?} {:?}", WebhookNotifier::new(cfg.clone()).unwrap());
        assert!(!shown.contains("hunter2") && !shown.contains("s3cret"), "{shown}");
    }
}
