//! A task record as hash fields (each holding that field's JSON, written by serde) and a
//! state update as the field changes it makes: [`TaskRecord::apply`]'s effects, computed in
//! Rust so that Lua only runs the guard and writes fields (it never decodes JSON).

use goodrobot_domain::task::{StateUpdate, TaskRecord, TaskState};
use redis::Value;
use serde::Serialize;

use crate::{codec::text, conn::Failure};

/// The field kept in a list of its own, not in the record's hash.
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
    /// Fields written only where the record holds `null`.
    pub set_if_null: Vec<(&'static str, String)>,
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, Failure> {
    serde_json::to_string(v).map_err(|e| Failure::Internal(format!("record field not serializable: {e}")))
}

impl Patch {
    fn put<T: Serialize + ?Sized>(&mut self, field: &'static str, v: &T) -> Result<(), Failure> {
        let v = to_json(v)?;
        match self.set.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = v,
            None => self.set.push((field, v)),
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
        set_if_null: Vec::new(),
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
            p.set_if_null.push(("received_at", to_json(&u.at)?));
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

/// A record's hash fields: every field but `children` (kept in a list), `null`s included.
pub(crate) fn fields(record: &TaskRecord) -> Result<Vec<(String, String)>, Failure> {
    let serde_json::Value::Object(map) =
        serde_json::to_value(record).map_err(|e| Failure::Internal(format!("record not serializable: {e}")))?
    else {
        return Err(Failure::Internal("a record is not a JSON object".into()));
    };
    Ok(map.into_iter().filter(|(k, _)| k != CHILDREN).map(|(k, v)| (k, v.to_string())).collect())
}

/// A record back from its hash fields (`field, JSON, …`) and children; `None` if there are
/// no fields.
pub(crate) fn record(fields: &[Value], children: &[Value]) -> Result<Option<TaskRecord>, Failure> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut json = String::with_capacity(512);
    json.push('{');
    for pair in fields.chunks(2) {
        let [k, v] = pair else { return Err(Failure::Internal("record hash of odd length".into())) };
        json.push_str(&to_json(text(k, "record field")?)?);
        json.push(':');
        json.push_str(text(v, "record value")?);
        json.push(',');
    }
    json.push_str("\"children\":[");
    for (i, c) in children.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&to_json(text(c, "child id")?)?);
    }
    json.push_str("]}");
    serde_json::from_str(&json).map(Some).map_err(|e| Failure::Internal(format!("stored record unreadable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, Utc};
    use goodrobot_domain::task::{QueueName, TaskFailure, TaskId, TaskMessage};
    use serde_json::{Map, json};

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

    fn as_map(r: &TaskRecord) -> Map<String, serde_json::Value> {
        match serde_json::to_value(r).unwrap() {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// What the Lua script does with a patch once the guard let it through.
    fn write(map: &mut Map<String, serde_json::Value>, p: &Patch) {
        for (f, v) in &p.set {
            map.insert((*f).to_owned(), serde_json::from_str(v).unwrap());
        }
        for (f, v) in &p.set_if_null {
            if map.get(*f).is_none_or(serde_json::Value::is_null) {
                map.insert((*f).to_owned(), serde_json::from_str(v).unwrap());
            }
        }
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
                let mut got = as_map(&before);
                write(&mut got, &patch(&u).unwrap());
                assert_eq!(got, as_map(&expected), "{:?} after {:?}", u, before.state);
            }
        }
    }

    #[test]
    fn a_record_round_trips_through_its_fields() {
        for mut rec in records() {
            rec.children = vec![TaskId::generate(), TaskId::generate()];
            let fields = fields(&rec).unwrap();
            let flat: Vec<Value> = fields
                .iter()
                .flat_map(|(k, v)| [Value::BulkString(k.clone().into()), Value::BulkString(v.clone().into())])
                .collect();
            let kids: Vec<Value> = rec.children.iter().map(|c| Value::BulkString(c.to_string().into())).collect();
            assert_eq!(record(&flat, &kids).unwrap(), Some(rec));
        }
    }

    #[test]
    fn no_fields_is_no_record() {
        assert_eq!(record(&[], &[]).unwrap(), None);
    }

    #[test]
    fn only_terminal_states_make_a_terminal_patch() {
        for state in TaskState::ALL {
            assert_eq!(patch(&StateUpdate::new(state, Utc::now())).unwrap().terminal, state.is_terminal());
        }
    }
}
