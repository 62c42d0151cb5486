//! What model calls cost, and the record of every one.
//!
//! - [`pricing`]: the price table (`models/pricing.toml`) in integer
//!   micro-dollars;
//! - [`ledger`]: `ledger.sqlite3`, one row per call, monthly budgets with
//!   reservations, and the response cache;
//! - [`metered`]: one call as the engine makes it: cache, reserve, send,
//!   record — whether it succeeded or not.

pub mod ledger;
pub mod metered;
pub mod pricing;

pub use ledger::{CallContext, CallRecord, CostReport, Ledger};
pub use metered::{Call, CallOptions, MeteredCompletion};
pub use pricing::{Price, PriceTable};
