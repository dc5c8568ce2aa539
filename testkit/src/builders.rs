//! Valid test data: users, orders, bids, queue names and task messages.

use chrono::{DateTime, TimeDelta, Utc};
use goodrobot_domain::{
    Address, Category, Description, NewBid, NewOrder, NewUser, Note, OrderId, PersonName, Phone, Price, Role, TgId,
    UserId,
    task::{Priority, QueueName, TaskId, TaskMessage},
};

/// A user with Telegram id `tg_id` (positive), named after it, without a phone.
///
/// # Panics
/// If `tg_id` is not positive.
pub fn new_user(tg_id: i64, role: Role) -> NewUser {
    NewUser {
        tg_id: TgId::new(tg_id).expect("a positive tg_id"),
        role,
        name: PersonName::new(&format!("User {tg_id}")).expect("a valid name"),
        phone: None,
    }
}

/// As [`new_user`], with a phone in E.164 form.
///
/// # Panics
/// If `tg_id` is not positive or `phone` is not E.164.
pub fn new_user_with_phone(tg_id: i64, role: Role, phone: &str) -> NewUser {
    NewUser { phone: Some(Phone::new(phone).expect("an E.164 phone")), ..new_user(tg_id, role) }
}

/// A plumbing order of `client` for tomorrow.
pub fn new_order(client: UserId) -> NewOrder {
    new_order_in(client, "plumbing")
}

/// An order of `client` in `category`, for tomorrow.
///
/// # Panics
/// If `category` is not a valid category.
pub fn new_order_in(client: UserId, category: &str) -> NewOrder {
    NewOrder {
        client_id: client,
        category: Category::new(category).expect("a valid category"),
        address: Address::new("Main st 1").expect("a valid address"),
        description: Description::new("a leaking tap").expect("a valid description"),
        when_at: Utc::now() + TimeDelta::days(1),
    }
}

/// A bid of `master` on `order` at `price` minor units.
///
/// # Panics
/// If `price` is negative or too large.
pub fn new_bid(order: OrderId, master: UserId, price: i64) -> NewBid {
    NewBid {
        order_id: order,
        master_id: master,
        price: Price::new(price).expect("a valid price"),
        note: Note::new("").expect("an empty note"),
    }
}

/// A queue name no other test uses (`<label>-<random>`).
///
/// # Panics
/// If `label` is longer than 30 characters or not of `[A-Za-z0-9_.-]`.
pub fn unique_queue(label: &str) -> QueueName {
    QueueName::new(&format!("{label}-{}", uuid::Uuid::new_v4().simple())).expect("a valid queue label")
}

/// A `diag.noop` message on `queue`, due now, priority 5.
pub fn task_message(queue: &QueueName) -> TaskMessage {
    TaskMessageBuilder::new(queue).build()
}

/// Builds a valid task message, changed where asked.
#[derive(Debug, Clone)]
pub struct TaskMessageBuilder(TaskMessage);

impl TaskMessageBuilder {
    /// A `diag.noop` message on `queue` with a fresh id, due now, priority 5, 3 retries.
    pub fn new(queue: &QueueName) -> Self {
        Self(TaskMessage {
            id: TaskId::generate(),
            name: "diag.noop".into(),
            args: serde_json::json!({ "x": 1 }),
            queue: queue.clone(),
            priority: Priority::default(),
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
        })
    }

    pub fn id(mut self, id: TaskId) -> Self {
        self.0.id = id;
        self
    }

    pub fn name(mut self, name: &str, args: serde_json::Value) -> Self {
        self.0.name = name.to_owned();
        self.0.args = args;
        self
    }

    /// # Panics
    /// If `p` is above 9.
    pub fn priority(mut self, p: u8) -> Self {
        self.0.priority = Priority::new(p).expect("a priority 0..=9");
        self
    }

    pub fn eta(mut self, eta: DateTime<Utc>) -> Self {
        self.0.eta = Some(eta);
        self
    }

    pub fn expires(mut self, at: DateTime<Utc>) -> Self {
        self.0.expires = Some(at);
        self
    }

    pub fn dedup_key(mut self, key: &str) -> Self {
        self.0.dedup_key = Some(key.to_owned());
        self
    }

    pub fn retries(mut self, retries: u32) -> Self {
        self.0.retries = retries;
        self
    }

    pub fn parent(mut self, parent: TaskId) -> Self {
        self.0.parent_id = Some(parent);
        self.0.root_id = Some(parent);
        self
    }

    pub fn build(self) -> TaskMessage {
        self.0
    }
}
