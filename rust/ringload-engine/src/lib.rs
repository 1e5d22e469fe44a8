//! The ringload engine: thread-per-core HTTP/1.1 load generation on monoio (io_uring, with an
//! epoll fallback).
//!
//! Layout, top to bottom (every arrow points down):
//! - [`load`]: the load runner. [`load::config`] says what to run; [`run`] (the coordinator)
//!   starts one pinned [`load::worker`] per core; each worker runs many connections that follow
//!   its plan (request budget and open-model schedule) and record into [`stats`].
//! - [`client`]: the request/response client behind the Python package.
//! - [`report`]: the coordinator merges the statistics into a [`Report`] and, second by second,
//!   its timeline; text, JSON, HTML and CSV outputs.
//! - `proto`: the protocol seam: what a protocol's driver reports into, and HTTP/1.1's driver
//!   and request rendering (`proto::h1`); [`net`]: dialing, TLS, proxies, names.
//! - The leaves: [`error`], [`runtime`], [`origin`], [`stats`], `template` (placeholders,
//!   parsed once), `rng`, `sys` (owned descriptors).

pub mod client;
pub(crate) mod error;
pub(crate) mod load;
pub(crate) mod net;
pub(crate) mod origin;
pub(crate) mod proto;
pub mod report;
pub(crate) mod rng;
pub(crate) mod runtime;
pub(crate) mod stats;
pub(crate) mod sys;
pub(crate) mod template;

pub use error::{
    ConfigError, Conflict, ErrorKind, FileProblem, FileRole, RequestRef, ScenarioProblem,
    StageProblem, StageRamp, TemplatePlace, TemplateProblem, TemplatedRequestProblem, TlsProblem,
    UrlProblem,
};
pub use load::config::{Http2Options, LoadConfig, ScenarioRequest};
pub use load::prepare::LoadPlan;
pub use load::stages::Stage;
pub use load::stop::StopSignal;
pub use load::{
    run, run_until, Progress, RequestOrder, RowSecond, Run, RunError, RunEvent, SecondStats,
    UserLoop, WaitTime,
};
pub use net::dial::PLAIN_HTTP_ANSWER;
pub use net::proxy::ClientProxy;
pub use net::resolve::Resolve;
pub use net::tls::{build_client_config, ClientTlsSpec, ServerCheck, TlsOptions, TrustedRoots};
pub use origin::{
    missing_scheme, missing_scheme_message, scheme_of, split_origin, target_of, Origin, Scheme,
    Target,
};
pub use report::timeline::TimelineEntry;
pub use report::{EndpointReport, LatencySummary, Outcomes, Ramps, Report, ScheduleLag};
pub use runtime::IoMode;
pub use stats::EndpointKey;
