//! The load runner's limits and defaults: leaf constants.

use std::time::Duration;

/// Longest duration, timeout or connect timeout accepted: far beyond any real run, and small
/// enough that deadlines computed from it cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Connections when none are given.
pub const DEFAULT_CONNECTIONS: usize = 64;
/// Slowest open-model rate accepted, requests per second.
pub const MIN_RATE: f64 = 0.001;
/// Smallest HTTP/2 receive window accepted: the protocol's default. Smaller ones would only
/// make the server wait on every frame.
pub const H2_MIN_WINDOW: u32 = 65_535;
/// Largest HTTP/2 receive window: the protocol's limit, 2^31-1.
pub const H2_MAX_WINDOW: u32 = (1 << 31) - 1;
/// Most HTTP/2 streams per connection accepted (`--streams`): far above what servers allow
/// (100 to 1,000), and small enough that a connection's buffers for them stay small.
pub const H2_MAX_STREAMS: usize = 65_536;
