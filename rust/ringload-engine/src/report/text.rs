//! The human summary (`Display for Report`): what the CLI prints and Python's `repr` shows.

use std::fmt;

use super::summary::{format_bytes, format_us, LatencySummary, REPORTED_PERCENTILES};
use super::{EndpointReport, Outcomes, Report};

fn write_latency(f: &mut fmt::Formatter<'_>, title: &str, l: &LatencySummary) -> fmt::Result {
    let (Some(min), Some(mean), Some(stdev), Some(max)) = (l.min, l.mean, l.stdev, l.max) else {
        return writeln!(f, "{title}: no request completed");
    };
    writeln!(
        f,
        "{title}: min {}  mean {}  stdev {}  max {}",
        format_us(min as f64),
        format_us(mean),
        format_us(stdev),
        format_us(max as f64)
    )?;
    let cells: Vec<String> = REPORTED_PERCENTILES
        .iter()
        .zip(l.percentiles())
        .map(|((_, label), v)| format!("{label} {}", format_us(v.unwrap_or(0) as f64)))
        .collect();
    writeln!(f, "  {}", cells.join("  "))
}

impl fmt::Display for Report {
    /// The human summary printed by the CLI (and Python's `repr`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let connections = match self.streams {
            Some(streams) => format!(
                "{} connections x {streams} stream{}, h2",
                self.connections,
                if streams == 1 { "" } else { "s" }
            ),
            None => format!("{} connections", self.connections),
        };
        writeln!(
            f,
            "{} {}  ({connections}, {} threads, {} model, io {})",
            self.method, self.url, self.threads, self.model, self.io
        )?;
        writeln!(
            f,
            "Requests: {}  ok {}  failed {}  aborted {}{}  in {:.2}s",
            self.outcomes.requests,
            self.outcomes.ok,
            self.failed_total(),
            self.outcomes.aborted,
            aborted_note(&self.outcomes),
            self.duration_s
        )?;
        if self.interrupted {
            writeln!(
                f,
                "Interrupted: stopped after {:.2}s; this covers what was measured until then, \
                 and the {} requests in flight were counted aborted",
                self.duration_s, self.outcomes.aborted
            )?;
        }
        writeln!(
            f,
            "Throughput: {:.1} req/s  read {}  written {}",
            self.outcomes.rps,
            format_bytes(self.bytes_read),
            format_bytes(self.bytes_written)
        )?;
        let title = if self.outcomes.latency_uncorrected_us.is_some() {
            "Latency (corrected, from schedule)"
        } else {
            "Latency"
        };
        write_latency(f, title, &self.outcomes.latency_us)?;
        if let Some(uncorrected) = &self.outcomes.latency_uncorrected_us {
            write_latency(f, "Latency (uncorrected, from send)", uncorrected)?;
        }
        let phase = |name: &str, l: &LatencySummary| match (l.p50, l.p99) {
            (Some(p50), Some(p99)) => format!(
                "{name} p50 {}  p99 {}",
                format_us(p50 as f64),
                format_us(p99 as f64)
            ),
            _ => format!("{name} -"),
        };
        let mut phases = vec![
            phase("connect", &self.connect_us),
            phase("ttfb", &self.ttfb_us),
        ];
        if let Some(tls) = &self.tls_us {
            phases.insert(1, phase("tls", tls));
        }
        writeln!(
            f,
            "Phases: {}  ({} new connections)",
            phases.join("  |  "),
            self.connects
        )?;
        if let Some(lag) = &self.schedule_lag {
            writeln!(
                f,
                "Schedule: target {:.1} req/s  send lag {}",
                lag.target_rps,
                lag.text_figures()
            )?;
            writeln!(f, "Pacer: {}", lag.pacer_figures())?;
        }
        let codes: Vec<String> = self
            .outcomes
            .status
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        writeln!(
            f,
            "Status codes: {}",
            if codes.is_empty() {
                "none".to_string()
            } else {
                codes.join("  ")
            }
        )?;
        let errors = self.error_counts();
        if self.endpoints.len() > 1 {
            write_endpoints(f, &self.endpoints)?;
        }
        write!(
            f,
            "Errors: {}",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join("  ")
            }
        )?;
        if self.outcomes.retries > 0 {
            let why = if self.protocol == "h2" {
                "streams the server never processed (GOAWAY, REFUSED_STREAM), sent again"
            } else {
                "idempotent, after a close that raced the send"
            };
            write!(f, "\nRetries ({why}): {}", self.outcomes.retries)?;
        }
        Ok(())
    }
}

/// What `aborted N` means, said where N is not 0: a reader of a short run otherwise takes them
/// for errors.
fn aborted_note(outcomes: &Outcomes) -> String {
    match (outcomes.aborted, outcomes.aborted_connecting) {
        (0, _) => String::new(),
        (_, 0) => " (in flight when the run ended, not counted as failures)".to_string(),
        (_, connecting) => format!(
            " (in flight when the run ended, not counted as failures; {connecting} while \
             connecting)"
        ),
    }
}

/// The per-name table, like Locust's stats table.
fn write_endpoints(f: &mut fmt::Formatter<'_>, endpoints: &[EndpointReport]) -> fmt::Result {
    let width = endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        f,
        "  {:<7} {:<width$}  {:>9} {:>8} {:>8}  {:>9} {:>9} {:>9} {:>9}  {:>10}",
        "Method", "Name", "Requests", "Failed", "Aborted", "p50", "p90", "p99", "max", "req/s"
    )?;
    for e in endpoints {
        let o = &e.outcomes;
        let latency = |v: Option<u64>| v.map_or("-".to_string(), |v| format_us(v as f64));
        writeln!(
            f,
            "  {:<7} {:<width$}  {:>9} {:>8} {:>8}  {:>9} {:>9} {:>9} {:>9}  {:>10.1}",
            e.method,
            e.name,
            o.requests,
            o.failed_total(),
            o.aborted,
            latency(o.latency_us.p50),
            latency(o.latency_us.p90),
            latency(o.latency_us.p99),
            latency(o.latency_us.max),
            o.rps
        )?;
    }
    Ok(())
}
