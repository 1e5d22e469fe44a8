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
pub mod client_url;
pub mod config;
pub(crate) mod connection;
mod dial;
mod exchange;
mod http_stream;
mod idle;
mod pacer;
mod plan;
pub mod proxy;
pub mod report;
pub mod resolve;
pub mod run;
pub mod stages;
pub mod stats;
pub mod stop;
mod template;
pub mod timeline;
pub mod tls;
mod watchdog;
pub mod worker;
mod x509;

pub use config::{
    ConfigError, EndpointKey, IoMode, LoadConfig, LoadPlan, ScenarioRequest, Scheme, Target,
    TlsOptions,
};
pub use dial::PLAIN_HTTP_ANSWER;
pub use report::{EndpointReport, LatencySummary, Outcomes, Ramps, Report, ScheduleLag};
pub use run::{run, run_until, Progress, RunError};
pub use stages::Stage;
pub use stats::ErrorKind;
pub use stop::StopSignal;
pub use timeline::TimelineEntry;
