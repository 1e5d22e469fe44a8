//! `ringload`: raw HTTP/1.1 throughput and latency, like wrk/wrk2/oha, with exact accounting.
//!
//! The whole command line is [`main_with_args`], so the binary and the Python package's
//! `ringload` command (through the extension) are the same program.
//!
//! Exit codes: 0 done, 1 the run could not happen, 2 bad usage (before any connection),
//! 3 a `--fail-on` threshold was crossed, 130 stopped by Ctrl-C and 143 by SIGTERM (the report
//! of what was measured is still printed).

mod args;
mod plan;
mod progress;
mod scenario;
mod serve;
mod signals;
mod thresholds;
mod units;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use clap::Parser;

use crate::args::{Cli, Command, LoadArgs};
use crate::progress::ProgressLine;
use crate::signals::SignalStop;

const EXIT_SUCCESS: u8 = 0;
const EXIT_RUN_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_THRESHOLD: u8 = 3;

/// Runs the command line `args` (the first one is the program's name) and returns the exit
/// status; output goes to this process's stdout and stderr.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> u8 {
    let status = run_command_line(args);
    // The Python command exits through the interpreter, which does not flush Rust's stdout.
    let _ = std::io::stdout().flush();
    status
}

/// Writes a line of the report to stdout. A reader that stopped reading (`ringload ... | head`)
/// is not an error of the run: the rest of the output is dropped quietly, where `println!`
/// would panic. Any other failure (a full disk) is the caller's to report.
fn print_out(text: &dyn std::fmt::Display) -> std::io::Result<()> {
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn run_command_line(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line naming the problem, not clap's whole usage block.
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first} (see ringload --help)");
            return EXIT_USAGE;
        }
        Err(e) => {
            let _ = e.print();
            return EXIT_SUCCESS;
        }
    };
    match &cli.command {
        Some(Command::Serve(args)) => match serve::serve(args) {
            Ok(status) => status,
            Err(e) => fail(EXIT_RUN_ERROR, &e),
        },
        Some(Command::Demo(args)) => {
            let (server, url) = match serve::start_demo_target() {
                Ok(started) => started,
                Err(e) => return fail(EXIT_RUN_ERROR, &e),
            };
            eprintln!(
                "demo: built-in target at {url}, {} connections for {:?}",
                args.connections, args.duration
            );
            let code = run_load(&serve::demo_args(args, url));
            let served = server.requests();
            server.shutdown();
            eprintln!("demo: the target counted {served} requests");
            eprintln!("{}", serve::demo_next_steps(args.html.as_deref()));
            code
        }
        None => run_load(&cli.load),
    }
}

fn fail(code: u8, error: &anyhow::Error) -> u8 {
    eprintln!("ringload: {error:#}");
    code
}

fn run_load(args: &LoadArgs) -> u8 {
    let plan = match args.to_plan() {
        Ok(plan) => plan,
        Err(e) => return fail(EXIT_USAGE, &e),
    };
    if let Err(e) = check_output_paths(args) {
        return fail(EXIT_USAGE, &e);
    }
    let signals = SignalStop::install();
    let mut progress = ProgressLine::new(!args.no_progress);
    let result = ringload_engine::run_until(
        &plan,
        signals.stop(),
        |warning| eprintln!("{warning}"),
        |p| progress.update(p),
    );
    progress.clear();
    let report = match result {
        Ok(report) => report,
        Err(e) => return fail(EXIT_RUN_ERROR, &e.into()),
    };
    let verdicts: Vec<_> = args.fail_on.iter().map(|t| t.check(&report)).collect();
    let printed = if args.json {
        let mut json = report.to_json();
        if !verdicts.is_empty() {
            json["thresholds"] = verdicts.iter().map(|v| v.to_json()).collect();
        }
        print_out(&json)
    } else {
        print_out(&report).and_then(|()| match tls_hint(&report) {
            Some(hint) => print_out(&hint),
            None => Ok(()),
        })
    };
    if let Err(e) = printed {
        return fail(
            EXIT_RUN_ERROR,
            &anyhow::Error::new(e).context("cannot write the report to stdout"),
        );
    }
    // After the summary, so a file that cannot be written does not cost the user the report.
    if let Err(e) = write_files(args, &report) {
        return fail(EXIT_RUN_ERROR, &e);
    }
    let mut crossed = false;
    for verdict in verdicts.iter().filter(|v| v.crossed) {
        eprintln!(
            "threshold crossed: {} (observed {})",
            verdict.expression, verdict.observed
        );
        crossed = true;
    }
    if report.interrupted {
        signals.exit_status()
    } else if crossed {
        EXIT_THRESHOLD
    } else {
        EXIT_SUCCESS
    }
}

/// The report files must be writable; finding out after a long run would lose it, so a
/// missing directory is a usage error before any traffic.
fn check_output_paths(args: &LoadArgs) -> anyhow::Result<()> {
    let outputs = [("--html", &args.html), ("--csv", &args.csv)];
    for (option, path) in outputs {
        let Some(path) = path else { continue };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            anyhow::bail!(
                "{option} {}: the directory {} does not exist; create it or choose another path",
                path.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Writes the `--html` and `--csv` files, saying where on stderr (stdout may be JSON).
fn write_files(args: &LoadArgs, report: &ringload_engine::Report) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(path) = &args.html {
        report
            .write_html(path)
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
        eprintln!("HTML report: {}", path.display());
    }
    if let Some(prefix) = &args.csv {
        let paths = report
            .write_csv(prefix)
            .with_context(|| format!("cannot write the CSV files {}_*.csv", prefix.display()))?;
        eprintln!("CSV: {}", paths.map(|p| p.display().to_string()).join(" "));
    }
    Ok(())
}

/// Every request failed in the TLS handshake: say how to get past a self-signed certificate
/// (not when the server spoke plain HTTP, which its message already says).
fn tls_hint(report: &ringload_engine::Report) -> Option<String> {
    let tls_failures = report.outcomes.failed.get("tls").copied().unwrap_or(0);
    let plain_http = report.error_examples.get("tls").map(String::as_str)
        == Some(ringload_engine::PLAIN_HTTP_ANSWER);
    (tls_failures > 0 && report.outcomes.ok == 0 && !plain_http).then(|| {
        "hint: TLS failed; for a self-signed or private certificate use --cacert FILE, or --insecure to skip verification".to_string()
    })
}
