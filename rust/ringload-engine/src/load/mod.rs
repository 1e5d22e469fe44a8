//! The load runner: a [`LoadConfig`](config::LoadConfig) checked and encoded into a
//! [`LoadPlan`] (`config`, `prepare`), run by pinned workers (`worker`, `connection`, `pacer`)
//! that a coordinator ([`Run`], in `run`) starts, watches and turns into a report.

pub mod config;
pub(crate) mod connection;
pub(crate) mod demand;
pub(crate) mod h2_bells;
pub(crate) mod h2_connection;
pub(crate) mod h2_driver;
pub(crate) mod h2_feed;
pub(crate) mod limits;
pub(crate) mod pacer;
pub(crate) mod plan;
pub mod prepare;
pub(crate) mod race;
pub mod run;
pub mod stages;
pub mod stop;
pub(crate) mod users;
pub(crate) mod watchdog;
pub mod worker;

use std::sync::Arc;

pub use crate::error::RunError;
use crate::load::prepare::LoadPlan;
pub use crate::load::run::{Progress, RowSecond, Run, RunEvent, SecondStats};
use crate::load::stop::StopSignal;
pub use crate::load::users::{RequestOrder, UserLoop, WaitTime};
use crate::report::Report;

/// Runs `plan` to its end through [`Run`]: `on_warning` receives each warning line as it is
/// found (those of the report too), `on_progress` each [`Progress`]. `stop` ends it early.
pub fn run_until(
    plan: &LoadPlan,
    stop: Arc<StopSignal>,
    mut on_warning: impl FnMut(&str),
    mut on_progress: impl FnMut(&Progress),
) -> Result<Report, RunError> {
    let mut run = Run::start(plan, stop)?;
    let mut warned = 0;
    while let Some(event) = run.next_event() {
        match event {
            RunEvent::Warning(line) => {
                warned += 1;
                on_warning(&line);
            }
            RunEvent::Progress(progress) => on_progress(&progress),
        }
    }
    let report = run.finish()?;
    for line in report.warnings.iter().skip(warned) {
        on_warning(line);
    }
    Ok(report)
}

/// [`run_until`] without a way to stop early.
pub fn run(
    plan: &LoadPlan,
    on_warning: impl FnMut(&str),
    on_progress: impl FnMut(&Progress),
) -> Result<Report, RunError> {
    run_until(plan, Arc::default(), on_warning, on_progress)
}
