//! The load runner's limits and defaults: leaf constants.

use std::time::Duration;

/// Longest duration, timeout or connect timeout accepted: far beyond any real run, and small
/// enough that deadlines computed from it cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Connections when none are given.
pub const DEFAULT_CONNECTIONS: usize = 64;
/// Slowest open-model rate accepted, requests per second.
pub const MIN_RATE: f64 = 0.001;
