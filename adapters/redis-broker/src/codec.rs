//! What is stored and how script replies are read: a stored message is its priority digit,
//! a start flag (`S`: the claim may record STARTED, `L`: the worker records it when the
//! handler starts, see `TaskMessage::starts_when_claimed`), its retries in decimal, then its
//! JSON (scripts read the prefix without decoding JSON; messages stored before the flag
//! existed are a digit and the JSON, and start late);
//! times are ms since the epoch; replies are `redis::Value`s taken apart by position.

use chrono::{DateTime, Utc};
use goodrobot_domain::task::{TaskId, TaskMessage};
use redis::Value;
use serde::Deserialize;
use std::time::Duration;

use crate::conn::Failure;

/// The longest duration handed to Redis in ms (a century).
const MAX_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// `d` in whole ms for Redis: rounded up, at least 1, at most a century.
pub(crate) fn ms(d: Duration) -> u64 {
    let whole = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let ms = if Duration::from_millis(whole) < d { whole.saturating_add(1) } else { whole };
    ms.clamp(1, MAX_MS)
}

/// An instant as ms since the epoch (the scores of the delayed set).
pub(crate) fn epoch_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// ms since the epoch as an instant (saturating at the ends of chrono's range).
pub(crate) fn from_epoch_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// The stored form of a message: priority digit, start flag, then JSON.
pub(crate) fn encode(msg: &TaskMessage) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::with_capacity(384);
    out.push(b'0' + msg.priority.get());
    out.push(if msg.starts_when_claimed() { b'S' } else { b'L' });
    out.extend_from_slice(msg.retries.to_string().as_bytes());
    serde_json::to_writer(&mut out, msg).map_err(|e| Failure::Internal(format!("message not serializable: {e}")))?;
    Ok(out)
}

/// A message back from its stored form.
pub(crate) fn decode(stored: &[u8]) -> Result<TaskMessage, String> {
    // The JSON starts at the first `{` (the prefix has none).
    let start = stored.iter().position(|&b| b == b'{').ok_or("stored message without JSON")?;
    let json = &stored[start..];
    serde_json::from_slice(json).map_err(|e| format!("stored message unreadable: {e}"))
}

/// A dead letter as stored: `{"failure":…,"message":…}` (the failure is for operators).
#[derive(Debug, Deserialize)]
pub(crate) struct DeadLetter {
    pub message: TaskMessage,
}

impl DeadLetter {
    pub(crate) fn parse(raw: &[u8]) -> Result<Self, Failure> {
        serde_json::from_slice(raw).map_err(|e| Failure::Internal(format!("dead letter unreadable: {e}")))
    }
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, Failure> {
    serde_json::to_string(v).map_err(|e| Failure::Internal(format!("not serializable: {e}")))
}

fn unexpected(what: &str, v: &Value) -> Failure {
    Failure::Internal(format!("unexpected reply for {what}: {v:?}"))
}

pub(crate) fn int(v: &Value, what: &str) -> Result<i64, Failure> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::BulkString(b) => {
            std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or_else(|| unexpected(what, v))
        }
        _ => Err(unexpected(what, v)),
    }
}

pub(crate) fn bytes<'a>(v: &'a Value, what: &str) -> Result<&'a [u8], Failure> {
    match v {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.as_bytes()),
        _ => Err(unexpected(what, v)),
    }
}

pub(crate) fn text<'a>(v: &'a Value, what: &str) -> Result<&'a str, Failure> {
    std::str::from_utf8(bytes(v, what)?).map_err(|_| unexpected(what, v))
}

pub(crate) fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], Failure> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(&[]),
        _ => Err(unexpected(what, v)),
    }
}

pub(crate) fn task_id(v: &Value, what: &str) -> Result<TaskId, Failure> {
    TaskId::parse(text(v, what)?).map_err(|_| unexpected(what, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_domain::task::{Priority, QueueName};

    fn msg(priority: u8) -> TaskMessage {
        TaskMessage {
            id: TaskId::generate(),
            name: "diag.noop".into(),
            args: serde_json::json!({ "priority": 0, "big": 12345678901234567890_u64, "list": [] }),
            queue: QueueName::default_queue(),
            priority: Priority::new(priority).unwrap(),
            eta: None,
            expires: None,
            parent_id: None,
            root_id: None,
            retries: 0,
            max_retries: 3,
            retry_delay_secs: 60,
            soft_time_limit_secs: None,
            time_limit_secs: None,
            dedup_key: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_stored_message_starts_with_its_priority_and_round_trips() {
        for p in [0, 5, 9] {
            let m = msg(p);
            let stored = encode(&m).unwrap();
            assert_eq!(stored[0], b'0' + p);
            assert_eq!(decode(&stored).unwrap(), m);
        }
    }

    #[test]
    fn ms_rounds_up_and_is_never_zero() {
        assert_eq!(ms(Duration::ZERO), 1);
        assert_eq!(ms(Duration::from_micros(1500)), 2);
        assert_eq!(ms(Duration::from_secs(30)), 30_000);
        assert_eq!(ms(Duration::MAX), MAX_MS);
    }

    #[test]
    fn epoch_ms_round_trips() {
        let t = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(from_epoch_ms(epoch_ms(t)), t);
    }
}
