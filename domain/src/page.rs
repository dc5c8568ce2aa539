//! Pagination: keyset (after an id), so a page is stable while new rows are inserted.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Which page to read: items with an id greater than `after`, at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    after: Option<i64>,
    limit: u32,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    /// # Errors
    /// `limit` must be 1..=200 and `after` non-negative.
    pub fn new(after: Option<i64>, limit: Option<u32>) -> Result<Self, ValidationError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(ValidationError::new("limit", format!("must be between 1 and {}", Self::MAX_LIMIT)));
        }
        if matches!(after, Some(a) if a < 0) {
            return Err(ValidationError::new("after", "must not be negative"));
        }
        Ok(Self { after, limit })
    }

    pub fn after(&self) -> Option<i64> {
        self.after
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { after: None, limit: Self::DEFAULT_LIMIT }
    }
}

/// One page of items, and the cursor of the next page if there may be one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items read in id order: the extra one only
    /// tells that a next page exists.
    pub fn from_overfetch(mut items: Vec<T>, req: PageRequest, id_of: impl Fn(&T) -> i64) -> Self {
        let limit = req.limit() as usize;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_after = if more { items.last().map(id_of) } else { None };
        Self { items, next_after }
    }
}
