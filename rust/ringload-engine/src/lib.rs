//! The ringload engine: thread-per-core HTTP/1.1 load generation on monoio (io_uring, with an
//! epoll fallback).
//!
//! Layout: [`config`] says what to run; [`run::run`] (the coordinator) starts one pinned
//! [`worker`] per core; each worker runs many [`connection`]s that follow its [`plan`] (request
//! budget and open-model schedule) and record into [`stats`]; the coordinator merges them into a
//! [`report::Report`] and, second by second, its [`timeline`].

mod any_stream;
pub mod body_stream;
pub mod client;
pub mod config;
pub(crate) mod connection;
mod dial;
pub mod error;
mod exchange;
mod http_stream;
mod idle;
mod limits;
pub mod origin;
mod pacer;
mod plan;
mod prepare;
pub mod proxy;
pub mod report;
pub mod resolve;
pub mod run;
pub mod runtime;
pub mod stages;
pub mod stats;
pub mod stop;
mod template;
pub mod tls;
mod watchdog;
pub mod worker;
mod x509;

pub use config::{LoadConfig, ScenarioRequest};
pub use dial::PLAIN_HTTP_ANSWER;
pub use error::{ConfigError, ErrorKind};
pub use origin::{Scheme, Target};
pub use prepare::LoadPlan;
pub use report::timeline::TimelineEntry;
pub use report::{EndpointReport, LatencySummary, Outcomes, Ramps, Report, ScheduleLag};
pub use run::{run, run_until, Progress, RunError};
pub use runtime::IoMode;
pub use stages::Stage;
pub use stats::EndpointKey;
pub use stop::StopSignal;
pub use tls::TlsOptions;
