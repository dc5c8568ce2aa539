//! A task record as hash fields (each holding that field's JSON, written by serde; a field
//! that is null is absent, so "set if null" is `HSETNX`) and a state update as the field
//! changes it makes: [`TaskRecord::apply`]'s effects, computed in Rust so that Lua only runs
//! the guard and writes fields (it never decodes JSON).

use goodrobot_domain::task::{StateUpdate, TaskRecord, TaskState};
use redis::Value;
use serde::Serialize;

use crate::{codec::text, conn::Failure};

/// The fields no update changes, kept together in the field [`BASE`] (fewer fields to write
/// and read on every update).
const STATIC: [&str; 9] =
    ["id", "name", "queue", "args", "max_retries", "expires", "parent_id", "root_id", "created_at"];
const BASE: &str = "base";
/// Kept as a JSON array of ids in its field (absent: none).
const CHILDREN: &str = "children";

/// What a state update writes, whatever the record holds (see [`patch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Patch {
    /// The new state as JSON (`"STARTED"`).
    pub state: String,
    pub terminal: bool,
    pub fence: Option<u64>,
    /// Fields written unconditionally, each once.
    pub set: Vec<(&'static str, String)>,
    /// Fields written only where the record has none.
    pub set_if_absent: Vec<(&'static str, String)>,
    /// Fields that become null.
    pub delete: Vec<&'static str>,
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, Failure> {
    serde_json::to_string(v).map_err(|e| Failure::Internal(format!("record field not serializable: {e}")))
}

impl Patch {
    /// Sets `field` to `v`, or deletes it if `v` is null; a later change of a field replaces
    /// an earlier one.
    fn put<T: Serialize + ?Sized>(&mut self, field: &'static str, v: &T) -> Result<(), Failure> {
        let v = to_json(v)?;
        self.set.retain(|(f, _)| *f != field);
        self.delete.retain(|f| *f != field);
        if v == "null" {
            self.delete.push(field);
        } else {
            self.set.push((field, v));
        }
        Ok(())
    }
}

/// The field changes of `u` when it is applied (the guard — terminal is final, stale fences
/// are refused — runs in Redis).
pub(crate) fn patch(u: &StateUpdate) -> Result<Patch, Failure> {
    let mut p = Patch {
        state: to_json(&u.state)?,
        terminal: u.state.is_terminal(),
        fence: u.fence,
        set: Vec::new(),
        set_if_absent: Vec::new(),
        delete: Vec::new(),
    };
    p.put("state", &u.state)?;
    p.put("updated_at", &u.at)?;
    if let Some(f) = u.fence {
        p.put("fence", &f)?;
    }
    if let Some(w) = &u.worker {
        p.put("worker", w)?;
    }
    if let Some(r) = u.retries {
        p.put("retries", &r)?;
    }
    if let Some(a) = u.attempt {
        p.put("attempts", &a)?;
    }
    if let Some(eta) = u.eta {
        p.put("eta", &eta)?;
    }
    let none = Option::<()>::None;
    match u.state {
        TaskState::Pending => {
            p.put("result", &none)?;
            p.put("error", &none)?;
            p.put("progress", &none)?;
            p.put("finished_at", &none)?;
        }
        TaskState::Received => p.put("received_at", &u.at)?,
        TaskState::Started => {
            p.set_if_absent.push(("received_at", to_json(&u.at)?));
            p.put("started_at", &u.at)?;
            p.put("error", &none)?;
        }
        TaskState::Progress => p.put("progress", &u.progress)?,
        TaskState::Retry => p.put("error", &u.error)?,
        TaskState::Success | TaskState::Failure | TaskState::Revoked => {
            p.put("finished_at", &u.at)?;
            p.put("result", &u.result)?;
            p.put("error", &u.error)?;
        }
    }
    if u.progress.is_some() {
        p.put("progress", &u.progress)?;
    }
    Ok(p)
}

/// A record's hash fields: `base` holding the fields no update changes (as a JSON object's
/// members without the braces), then every other field that is not null, `children` as a
/// JSON array unless empty.
pub(crate) fn fields(record: &TaskRecord) -> Result<Vec<(String, String)>, Failure> {
    let serde_json::Value::Object(map) =
        serde_json::to_value(record).map_err(|e| Failure::Internal(format!("record not serializable: {e}")))?
    else {
        return Err(Failure::Internal("a record is not a JSON object".into()));
    };
    let mut base = String::with_capacity(256);
    let mut out = vec![(BASE.to_owned(), String::new())];
    for (k, v) in map {
        if STATIC.contains(&k.as_str()) {
            if !base.is_empty() {
                base.push(',');
            }
            base.push_str(&to_json(&k)?);
            base.push(':');
            base.push_str(&v.to_string());
        } else if !(v.is_null() || (k == CHILDREN && v.as_array().is_some_and(Vec::is_empty))) {
            out.push((k, v.to_string()));
        }
    }
    out[0].1 = base;
    Ok(out)
}

/// A record back from its hash fields (`field, JSON, …`); `None` if there are none.
pub(crate) fn record(fields: &[Value]) -> Result<Option<TaskRecord>, Failure> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut json = String::with_capacity(512);
    json.push('{');
    let mut children = false;
    for pair in fields.chunks(2) {
        let [k, v] = pair else { return Err(Failure::Internal("record hash of odd length".into())) };
        let (k, v) = (text(k, "record field")?, text(v, "record value")?);
        if k == BASE {
            json.push_str(v);
        } else {
            children |= k == CHILDREN;
            json.push_str(&to_json(k)?);
            json.push(':');
            json.push_str(v);
        }
        json.push(',');
    }
    if children {
        json.pop();
    } else {
        json.push_str("\"children\":[]");
    }
    json.push('}');
    serde_json::from_str(&json).map(Some).map_err(|e| Failure::Internal(format!("stored record unreadable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, Utc};
    use goodrobot_domain::task::{QueueName, TaskFailure, TaskId, TaskMessage};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn message() -> TaskMessage {
        TaskMessage {
            id: TaskId::generate(),
            name: "diag.noop".into(),
            args: json!({ "x": [] }),
            queue: QueueName::default_queue(),
            priority: Default::default(),
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

    /// The record's hash as Redis holds it.
    fn hash(r: &TaskRecord) -> BTreeMap<String, String> {
        fields(r).unwrap().into_iter().collect()
    }

    /// What the Lua script does with a patch once the guard let it through.
    fn write(hash: &mut BTreeMap<String, String>, p: &Patch) {
        for (f, v) in &p.set {
            hash.insert((*f).to_owned(), v.clone());
        }
        for (f, v) in &p.set_if_absent {
            hash.entry((*f).to_owned()).or_insert_with(|| v.clone());
        }
        for f in &p.delete {
            hash.remove(*f);
        }
    }

    fn read(hash: &BTreeMap<String, String>) -> TaskRecord {
        let flat: Vec<Value> = hash
            .iter()
            .flat_map(|(k, v)| [Value::BulkString(k.clone().into()), Value::BulkString(v.clone().into())])
            .collect();
        record(&flat).unwrap().unwrap()
    }

    /// Records in several states, with and without the optional parts set.
    fn records() -> Vec<TaskRecord> {
        let now = Utc::now();
        let pending = TaskRecord::pending(&message(), now - TimeDelta::seconds(5));
        let mut received = pending.clone();
        received.apply(&StateUpdate::new(TaskState::Received, now - TimeDelta::seconds(4)));
        let mut running = received.clone();
        running.apply(&StateUpdate {
            worker: Some("w0".into()),
            fence: Some(3),
            progress: Some(json!({ "percent": 10 })),
            ..StateUpdate::new(TaskState::Started, now - TimeDelta::seconds(3))
        });
        let mut retrying = running.clone();
        retrying.apply(&StateUpdate {
            error: Some(TaskFailure::retryable("HandlerError", "again")),
            ..StateUpdate::new(TaskState::Retry, now - TimeDelta::seconds(2))
        });
        vec![pending, received, running, retrying]
    }

    /// Updates of every state, plain and with every optional part.
    fn updates() -> Vec<StateUpdate> {
        let at = Utc::now();
        TaskState::ALL
            .into_iter()
            .flat_map(|state| {
                let plain = StateUpdate::new(state, at);
                let full = StateUpdate {
                    worker: Some("w1".into()),
                    retries: Some(2),
                    result: Some(json!({ "ok": [1, 2] })),
                    error: Some(TaskFailure::new("HandlerError", "boom")),
                    progress: Some(json!({ "percent": 50 })),
                    eta: Some(at + TimeDelta::minutes(1)),
                    fence: Some(7),
                    attempt: Some(2),
                    ..StateUpdate::new(state, at)
                };
                [plain, full]
            })
            .collect()
    }

    #[test]
    fn a_patch_changes_the_fields_exactly_as_apply_does() {
        for before in records() {
            for u in updates() {
                let mut expected = before.clone();
                assert!(expected.apply(&u), "non-terminal records with lower fences accept {u:?}");
                let mut got = hash(&before);
                write(&mut got, &patch(&u).unwrap());
                assert_eq!(read(&got), expected, "{:?} after {:?}", u, before.state);
                assert_eq!(got, hash(&expected), "no null is stored");
            }
        }
    }

    #[test]
    fn a_record_round_trips_through_its_fields() {
        for mut rec in records() {
            assert_eq!(read(&hash(&rec)), rec);
            rec.children = vec![TaskId::generate(), TaskId::generate()];
            assert_eq!(read(&hash(&rec)), rec);
        }
    }

    #[test]
    fn no_update_touches_the_base_fields() {
        for u in updates() {
            let p = patch(&u).unwrap();
            let touched = p.set.iter().chain(&p.set_if_absent).map(|(f, _)| f).chain(&p.delete);
            for f in touched {
                assert!(!STATIC.contains(f) && *f != BASE, "{f} changed by {u:?}");
            }
        }
    }

    #[test]
    fn no_fields_is_no_record() {
        assert_eq!(record(&[]).unwrap(), None);
    }

    #[test]
    fn only_terminal_states_make_a_terminal_patch() {
        for state in TaskState::ALL {
            assert_eq!(patch(&StateUpdate::new(state, Utc::now())).unwrap().terminal, state.is_terminal());
        }
    }
}
