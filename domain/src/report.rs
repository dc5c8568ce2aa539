//! Analytics reports: orders by status and category in a period, bids per master, prices.
//!
//! A report is folded order by order into a [`ReportAccumulator`], which serializes, so a
//! long report can checkpoint its progress and resume after a redelivery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{Bid, BidStatus, Category, Order, ValidationError};

/// Which report to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportType {
    /// Orders counted by status.
    OrdersByStatus,
    /// Orders counted by category.
    OrdersByCategory,
    /// Bids per master: placed, selected, average price.
    BidsPerMaster,
    /// Bid prices: count, average, min, max.
    AveragePrice,
    /// All of the above.
    Summary,
}

/// What the report covers: orders created in `[from, to)`, optionally of one category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub category: Option<Category>,
}

impl ReportParams {
    /// # Errors
    /// `from` after `to`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let (Some(f), Some(t)) = (self.from, self.to)
            && f > t
        {
            return Err(ValidationError::new("params.from", "must not be after params.to"));
        }
        Ok(())
    }

    pub fn covers(&self, o: &Order) -> bool {
        self.from.is_none_or(|f| o.created_at >= f)
            && self.to.is_none_or(|t| o.created_at < t)
            && self.category.as_ref().is_none_or(|c| c == &o.category)
    }
}

/// One master's bidding figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MasterBids {
    pub bids: u64,
    pub selected: u64,
    pub total_price: i64,
    pub average_price: f64,
}

/// Figures about bid prices (minor units).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceStats {
    pub bids: u64,
    pub average: f64,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// A finished report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsReport {
    pub report_type: ReportType,
    pub params: ReportParams,
    pub generated_at: DateTime<Utc>,
    pub orders_total: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub orders_by_status: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub orders_by_category: Option<BTreeMap<String, u64>>,
    /// Keyed by master id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bids_per_master: Option<BTreeMap<String, MasterBids>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prices: Option<PriceStats>,
}

/// A report being built; serializable so that it can be checkpointed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportAccumulator {
    pub report_type: ReportType,
    pub params: ReportParams,
    /// The last order folded in (orders are folded in id order).
    pub last_order_id: Option<i64>,
    pub orders_total: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub per_master: BTreeMap<String, MasterBids>,
    pub prices: PriceStats,
    #[serde(default)]
    price_sum: i64,
}

impl ReportAccumulator {
    pub fn new(report_type: ReportType, params: ReportParams) -> Self {
        Self {
            report_type,
            params,
            last_order_id: None,
            orders_total: 0,
            by_status: BTreeMap::new(),
            by_category: BTreeMap::new(),
            per_master: BTreeMap::new(),
            prices: PriceStats::default(),
            price_sum: 0,
        }
    }

    /// Folds one order and its bids in (an order outside the params only moves the cursor).
    pub fn add(&mut self, order: &Order, bids: &[Bid]) {
        self.last_order_id = Some(order.id.0);
        if !self.params.covers(order) {
            return;
        }
        self.orders_total += 1;
        *self.by_status.entry(order.status.to_string()).or_default() += 1;
        *self.by_category.entry(order.category.as_str().to_owned()).or_default() += 1;
        for b in bids.iter().filter(|b| b.order_id == order.id) {
            let m = self.per_master.entry(b.master_id.to_string()).or_default();
            m.bids += 1;
            m.total_price += b.price.get();
            if b.status == BidStatus::Selected {
                m.selected += 1;
            }
            let p = b.price.get();
            self.prices.bids += 1;
            self.price_sum += p;
            self.prices.min = Some(self.prices.min.map_or(p, |x| x.min(p)));
            self.prices.max = Some(self.prices.max.map_or(p, |x| x.max(p)));
        }
    }

    /// The finished report, with only the sections its type asks for.
    pub fn finish(mut self, now: DateTime<Utc>) -> AnalyticsReport {
        for m in self.per_master.values_mut() {
            m.average_price = if m.bids == 0 { 0.0 } else { m.total_price as f64 / m.bids as f64 };
        }
        self.prices.average = if self.prices.bids == 0 { 0.0 } else { self.price_sum as f64 / self.prices.bids as f64 };
        let t = self.report_type;
        let want = |x: ReportType| t == x || t == ReportType::Summary;
        AnalyticsReport {
            report_type: t,
            params: self.params,
            generated_at: now,
            orders_total: self.orders_total,
            orders_by_status: want(ReportType::OrdersByStatus).then_some(self.by_status),
            orders_by_category: want(ReportType::OrdersByCategory).then_some(self.by_category),
            bids_per_master: want(ReportType::BidsPerMaster).then_some(self.per_master),
            prices: want(ReportType::AveragePrice).then_some(self.prices),
        }
    }
}

/// How far a report run has got: what `GET /api/v1/tasks/{id}` shows as its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanProgress {
    /// Orders read so far (by this run and the runs it resumed).
    pub scanned: u64,
    /// Orders to read: counted when the run began (orders added since push it up).
    pub total: u64,
    /// `scanned` of `total`, 0 to 100; 100 only once the scan is done.
    pub percent: u8,
    /// Where this run picked up an earlier delivery's checkpoint, if it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resumed_from: Option<u64>,
}

impl ScanProgress {
    /// Progress part-way: below 100 percent however the counts compare.
    pub fn running(scanned: u64, total: u64, resumed_from: Option<u64>) -> Self {
        let total = total.max(scanned);
        let percent = scanned.saturating_mul(100).checked_div(total).unwrap_or(0).min(99);
        Self { scanned, total, percent: u8::try_from(percent).unwrap_or(99), resumed_from }
    }

    /// The scan is complete.
    pub fn done(scanned: u64, resumed_from: Option<u64>) -> Self {
        Self { scanned, total: scanned, percent: 100, resumed_from }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_below_100_until_done_and_never_over_its_total() {
        assert_eq!(ScanProgress::running(0, 0, None).percent, 0);
        assert_eq!(ScanProgress::running(250, 1000, None).percent, 25);
        assert_eq!(ScanProgress::running(999, 1000, None).percent, 99);
        let over = ScanProgress::running(1200, 1000, Some(100));
        assert_eq!((over.total, over.percent, over.resumed_from), (1200, 99, Some(100)));
        assert_eq!(ScanProgress::done(1200, None).percent, 100);
    }

    #[test]
    fn progress_serializes_with_percent_and_resume_point() {
        let v = serde_json::to_value(ScanProgress::running(300, 1200, Some(200))).unwrap();
        assert_eq!(v, serde_json::json!({"scanned": 300, "total": 1200, "percent": 25, "resumed_from": 200}));
        let v = serde_json::to_value(ScanProgress::done(5, None)).unwrap();
        assert_eq!(v, serde_json::json!({"scanned": 5, "total": 5, "percent": 100}));
    }
    use crate::{Address, BidId, Description, Note, OrderId, OrderStatus, Price, UserId};

    fn order(id: i64, cat: &str, status: OrderStatus) -> Order {
        let now = Utc::now();
        Order {
            id: OrderId(id),
            client_id: UserId(1),
            master_id: None,
            category: Category::new(cat).unwrap(),
            address: Address::new("a").unwrap(),
            description: Description::new("").unwrap(),
            when_at: now,
            status,
            created_at: now,
            updated_at: now,
        }
    }

    fn bid(id: i64, order: i64, master: i64, price: i64, status: BidStatus) -> Bid {
        Bid {
            id: BidId(id),
            order_id: OrderId(order),
            master_id: UserId(master),
            price: Price::new(price).unwrap(),
            note: Note::new("").unwrap(),
            status,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn summary_counts_orders_and_prices() {
        let mut acc = ReportAccumulator::new(ReportType::Summary, ReportParams::default());
        acc.add(
            &order(1, "plumbing", OrderStatus::New),
            &[bid(1, 1, 10, 100, BidStatus::Active), bid(2, 1, 11, 300, BidStatus::Active)],
        );
        acc.add(&order(2, "electrics", OrderStatus::Assigned), &[bid(3, 2, 10, 200, BidStatus::Selected)]);
        let r = acc.finish(Utc::now());
        assert_eq!(r.orders_total, 2);
        assert_eq!(r.orders_by_status.unwrap()["new"], 1);
        assert_eq!(r.orders_by_category.unwrap()["electrics"], 1);
        let m = &r.bids_per_master.unwrap()["10"];
        assert_eq!((m.bids, m.selected, m.average_price), (2, 1, 150.0));
        let p = r.prices.unwrap();
        assert_eq!((p.bids, p.average, p.min, p.max), (3, 200.0, Some(100), Some(300)));
    }

    #[test]
    fn category_filter_and_sections_by_type() {
        let params = ReportParams { category: Some(Category::new("plumbing").unwrap()), ..Default::default() };
        let mut acc = ReportAccumulator::new(ReportType::OrdersByStatus, params);
        acc.add(&order(1, "plumbing", OrderStatus::New), &[]);
        acc.add(&order(2, "electrics", OrderStatus::New), &[]);
        let r = acc.finish(Utc::now());
        assert_eq!(r.orders_total, 1);
        assert!(r.prices.is_none() && r.orders_by_category.is_none());
    }

    #[test]
    fn accumulator_survives_a_json_round_trip() {
        let mut acc = ReportAccumulator::new(ReportType::Summary, ReportParams::default());
        acc.add(&order(1, "plumbing", OrderStatus::New), &[bid(1, 1, 10, 100, BidStatus::Active)]);
        let back: ReportAccumulator = serde_json::from_value(serde_json::to_value(&acc).unwrap()).unwrap();
        assert_eq!(back, acc);
    }
}
