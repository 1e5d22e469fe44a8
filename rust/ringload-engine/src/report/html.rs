//! The report as one self-contained HTML page: the run's configuration, the summary and
//! per-endpoint tables, charts over time and the latency spectrum. Charts are SVG drawn here
//! ([`super::chart`]); the page has no script and loads nothing.

use std::fmt::Write;

use super::chart::{escape, LineChart, Series, Unit, XAxis, PALETTE};
use super::summary::{format_bytes, format_us, LatencySummary, REPORTED_PERCENTILES};
use super::timeline::TimelineEntry;
use super::Report;
use crate::error::ErrorKind;
use crate::load::stages::Stage;

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
table{border-collapse:collapse;margin:4px 0 8px}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}\
th{background:#f6f6f6;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:6px 10px;margin:6px 0}\
figure.chart{margin:12px 0 20px}figcaption{font-weight:600;margin-bottom:4px}\
svg{width:100%;height:auto;background:#fff;border:1px solid #eee}\
line.grid{stroke:#e6e6e6;stroke-width:1}text.tick,text.axis{font-size:11px;fill:#555}\
ul.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 18px;font-size:13px}\
.swatch{display:inline-block;width:22px;border-top:3px solid;margin-right:6px;vertical-align:middle}\
.swatch.dashed{border-top-style:dashed}.empty{color:#888}.muted{color:#777}";

impl Report {
    /// The report as a self-contained HTML page (`--html`, `Result.to_html`).
    pub fn to_html(&self) -> String {
        let mut page = String::with_capacity(64 * 1024);
        let title = format!("ringload: {} {}", self.method, self.url);
        let _ = write!(
            page,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{}</title><style>{STYLE}</style></head><body>\
             <h1>{}</h1><p class=\"muted\">ringload {} report, {} model, {:.2} s</p>",
            escape(&title),
            escape(&title),
            env!("CARGO_PKG_VERSION"),
            self.model,
            self.duration_s
        );
        for warning in &self.warnings {
            let _ = write!(page, "<p class=\"warn\">{}</p>", escape(warning));
        }
        page.push_str("<h2>Configuration</h2>");
        page.push_str(&self.configuration_table());
        page.push_str("<h2>Summary</h2>");
        page.push_str(&self.summary_table());
        page.push_str("<h2>Latency</h2>");
        page.push_str(&self.latency_table());
        page.push_str("<h2>Endpoints</h2>");
        page.push_str(&self.endpoint_table());
        page.push_str("<h2>Over time</h2>");
        for chart in self.timeline_charts() {
            page.push_str(&chart.render());
        }
        page.push_str("<h2>Latency distribution</h2>");
        page.push_str(&self.spectrum_chart().render());
        page.push_str("</body></html>\n");
        page
    }

    /// Writes [`Report::to_html`] to `path`.
    pub fn write_html(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_html())
    }

    fn configuration_table(&self) -> String {
        let mut rows = vec![
            ("Target", self.url.clone()),
            ("Method", self.method.clone()),
            (
                "Model",
                match &self.schedule_lag {
                    Some(lag) if !self.ramps.rate.is_empty() => format!(
                        "open, {} ({:.1} req/s on average)",
                        describe_stages(self.ramps.rate_start, &self.ramps.rate, " req/s"),
                        lag.target_rps
                    ),
                    Some(lag) => format!("open, {:.1} req/s", lag.target_rps),
                    None => "closed (next request when the previous one completes)".to_string(),
                },
            ),
            (
                "Connections",
                if self.ramps.connections.is_empty() {
                    self.connections.to_string()
                } else {
                    format!(
                        "{} at the peak, {}",
                        self.connections,
                        describe_stages(0.0, &self.ramps.connections, "")
                    )
                },
            ),
            ("Threads", self.threads.to_string()),
            ("I/O driver", self.io.to_string()),
            ("Duration", format!("{:.2} s", self.duration_s)),
        ];
        if self.tls_us.is_some() {
            rows.push(("TLS", "yes".to_string()));
        }
        key_value_table(&rows)
    }

    fn summary_table(&self) -> String {
        let o = &self.outcomes;
        let mut rows = vec![
            ("Requests", o.requests.to_string()),
            ("OK (complete responses)", o.ok.to_string()),
            ("Failed", o.failed_total().to_string()),
            (
                "Aborted at the end",
                match o.aborted_connecting {
                    0 => o.aborted.to_string(),
                    n => format!("{} ({n} while connecting)", o.aborted),
                },
            ),
            ("Throughput", format!("{:.1} req/s", o.rps)),
            (
                "Bytes",
                format!(
                    "read {}, written {}",
                    format_bytes(self.bytes_read),
                    format_bytes(self.bytes_written)
                ),
            ),
            ("New connections", self.connects.to_string()),
            ("Status codes", join_counts(&o.status)),
        ];
        let errors = self.error_counts();
        rows.push((
            "Errors",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join("; ")
            },
        ));
        if let Some(lag) = &self.schedule_lag {
            rows.push(("Schedule lag", lag.html_figures()));
        }
        key_value_table(&rows)
    }

    fn latency_table(&self) -> String {
        let mut rows = vec![(
            if self.outcomes.latency_uncorrected_us.is_some() {
                "Latency (corrected, from schedule)"
            } else {
                "Latency"
            },
            &self.outcomes.latency_us,
        )];
        if let Some(uncorrected) = &self.outcomes.latency_uncorrected_us {
            rows.push(("Latency (uncorrected, from send)", uncorrected));
        }
        rows.push(("Connect (new connections)", &self.connect_us));
        if let Some(tls) = &self.tls_us {
            rows.push(("TLS handshake", tls));
        }
        rows.push(("Time to first byte", &self.ttfb_us));
        let mut table =
            String::from("<table><tr><th></th><th class=\"n\">min</th><th class=\"n\">mean</th>");
        for (_, label) in REPORTED_PERCENTILES {
            let _ = write!(table, "<th class=\"n\">{label}</th>");
        }
        table.push_str("<th class=\"n\">max</th></tr>");
        for (name, summary) in rows {
            let _ = write!(
                table,
                "<tr><th>{name}</th>{}{}",
                number_cell(summary.min),
                number_cell_f(summary.mean)
            );
            for value in summary.percentiles() {
                table.push_str(&number_cell(value));
            }
            let _ = write!(table, "{}</tr>", number_cell(summary.max));
        }
        table.push_str("</table>");
        table
    }

    fn endpoint_table(&self) -> String {
        let mut table = String::from(
            "<table><tr><th>Method</th><th>Name</th><th class=\"n\">Requests</th>\
             <th class=\"n\">OK</th><th class=\"n\">Failed</th><th class=\"n\">Aborted</th>\
             <th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p99</th>\
             <th class=\"n\">max</th><th class=\"n\">req/s</th><th>Status codes</th></tr>",
        );
        let rows = self
            .endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.name.as_str(), &e.outcomes))
            .chain((self.endpoints.len() > 1).then_some(("", "Aggregated", &self.outcomes)));
        for (method, name, o) in rows {
            let l: &LatencySummary = &o.latency_us;
            let _ = write!(
                table,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td>{}{}{}{}\
                 <td class=\"n\">{:.1}</td><td>{}</td></tr>",
                escape(method),
                escape(name),
                o.requests,
                o.ok,
                o.failed_total(),
                o.aborted,
                number_cell(l.p50),
                number_cell(l.p90),
                number_cell(l.p99),
                number_cell(l.max),
                o.rps,
                escape(&join_counts(&o.status))
            );
        }
        table.push_str("</table>");
        table
    }

    fn timeline_charts(&self) -> Vec<LineChart> {
        let timeline = &self.timeline;
        let at = |e: &TimelineEntry| e.t + e.duration_s;
        let series = |name: &str, color: &'static str, dashed: bool, points: Vec<(f64, f64)>| {
            Series::unbroken(name.to_string(), color, dashed, points)
        };
        // Latency where nothing completed is unknown, not zero: the line breaks there.
        let broken_series =
            |name: &str, color: &'static str, dashed: bool, points: Vec<Option<(f64, f64)>>| {
                Series {
                    name: name.to_string(),
                    color,
                    dashed,
                    points,
                }
            };
        let open_model = self.outcomes.latency_uncorrected_us.is_some();

        let mut throughput = vec![series(
            "responses/s",
            PALETTE[0],
            false,
            timeline.iter().map(|e| (at(e), e.rps)).collect(),
        )];
        if self.schedule_lag.is_some() {
            // Per entry, so a ramp (--stage) shows as one.
            throughput.push(series(
                "target rate",
                "#999999",
                true,
                timeline
                    .iter()
                    .filter_map(|e| Some((at(e), e.target_rps?)))
                    .collect(),
            ));
        }

        let mut latency = Vec::new();
        let percentiles: [(&str, PickLatency); 4] = [
            ("p50", |l| l.p50),
            ("p90", |l| l.p90),
            ("p99", |l| l.p99),
            ("max", |l| l.max),
        ];
        for (index, (name, pick)) in percentiles.iter().enumerate() {
            let label = if open_model {
                format!("{name} corrected")
            } else {
                name.to_string()
            };
            latency.push(broken_series(
                &label,
                PALETTE[index],
                false,
                latency_points(timeline, |e| pick(&e.latency_us)),
            ));
        }
        if open_model {
            for (index, (name, pick)) in percentiles.iter().enumerate().take(3) {
                latency.push(broken_series(
                    &format!("{name} uncorrected"),
                    PALETTE[index],
                    true,
                    latency_points(timeline, |e| {
                        e.latency_uncorrected_us.as_ref().and_then(pick)
                    }),
                ));
            }
        }

        let mut outcomes = Vec::new();
        let mut colors = PALETTE.iter().cycle();
        for code in self.outcomes.status.keys() {
            outcomes.push(series(
                &format!("HTTP {code}/s"),
                colors.next().copied().unwrap_or(PALETTE[0]),
                false,
                per_second(timeline, |e| e.status.get(code).copied().unwrap_or(0)),
            ));
        }
        for kind in ErrorKind::ALL {
            if self.outcomes.failed.get(kind.name()).copied().unwrap_or(0) > 0 {
                outcomes.push(series(
                    &format!("{} errors/s", kind.name()),
                    colors.next().copied().unwrap_or(PALETTE[1]),
                    true,
                    per_second(timeline, |e| {
                        e.failed.get(kind.name()).copied().unwrap_or(0)
                    }),
                ));
            }
        }
        if self.outcomes.aborted > 0 {
            outcomes.push(series(
                "aborted/s",
                "#7f7f7f",
                true,
                per_second(timeline, |e| e.aborted),
            ));
        }

        let connections = vec![
            series(
                "open",
                PALETTE[0],
                false,
                timeline
                    .iter()
                    .map(|e| (at(e), e.connections_open as f64))
                    .collect(),
            ),
            series(
                "new per second",
                PALETTE[3],
                true,
                per_second(timeline, |e| e.connects),
            ),
        ];

        vec![
            LineChart {
                id: "chart-rps",
                title: "Requests per second".to_string(),
                unit: Unit::Count,
                x_axis: XAxis::Seconds,
                series: throughput,
            },
            LineChart {
                id: "chart-latency",
                title: if open_model {
                    "Latency percentiles per second (solid: corrected, from schedule; dashed: \
                     uncorrected, from send)"
                        .to_string()
                } else {
                    "Latency percentiles per second".to_string()
                },
                unit: Unit::Micros,
                x_axis: XAxis::Seconds,
                series: latency,
            },
            LineChart {
                id: "chart-outcomes",
                title: "Status codes and errors per second".to_string(),
                unit: Unit::Count,
                x_axis: XAxis::Seconds,
                series: outcomes,
            },
            LineChart {
                id: "chart-connections",
                title: "Connections".to_string(),
                unit: Unit::Count,
                x_axis: XAxis::Seconds,
                series: connections,
            },
        ]
    }

    fn spectrum_chart(&self) -> LineChart {
        let nines = |points: &[(f64, u64)]| -> Vec<(f64, f64)> {
            points
                .iter()
                .map(|&(percentile, us)| (-(1.0 - percentile / 100.0).log10(), us as f64))
                .collect()
        };
        let open_model = self.spectrum.uncorrected.is_some();
        let mut series = vec![Series::unbroken(
            if open_model { "corrected" } else { "latency" }.to_string(),
            PALETTE[0],
            false,
            nines(&self.spectrum.corrected),
        )];
        if let Some(uncorrected) = &self.spectrum.uncorrected {
            series.push(Series::unbroken(
                "uncorrected".to_string(),
                PALETTE[1],
                true,
                nines(uncorrected),
            ));
        }
        LineChart {
            id: "chart-spectrum",
            title: "Latency by percentile (HdrHistogram percentile spectrum)".to_string(),
            unit: Unit::Micros,
            x_axis: XAxis::Nines,
            series,
        }
    }
}

/// One percentile of a latency summary.
type PickLatency = fn(&LatencySummary) -> Option<u64>;

/// A per-second rate of `count` over each entry.
fn per_second(
    timeline: &[TimelineEntry],
    count: impl Fn(&TimelineEntry) -> u64,
) -> Vec<(f64, f64)> {
    timeline
        .iter()
        .map(|e| {
            let rate = if e.duration_s > 0.0 {
                count(e) as f64 / e.duration_s
            } else {
                0.0
            };
            (e.t + e.duration_s, rate)
        })
        .collect()
}

/// A latency point per entry; `None` for an entry in which nothing completed.
fn latency_points(
    timeline: &[TimelineEntry],
    value: impl Fn(&TimelineEntry) -> Option<u64>,
) -> Vec<Option<(f64, f64)>> {
    timeline
        .iter()
        .map(|e| Some((e.t + e.duration_s, value(e)? as f64)))
        .collect()
}

fn key_value_table(rows: &[(&str, String)]) -> String {
    let mut table = String::from("<table>");
    for (key, value) in rows {
        let _ = write!(
            table,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    table.push_str("</table>");
    table
}

/// A ramp as its stages read: `from 0 req/s, to 400 req/s over 2 s, to 0 req/s over 500 ms`.
fn describe_stages(start: f64, stages: &[Stage], unit: &str) -> String {
    let mut text = format!("from {start}{unit}");
    for stage in stages {
        let _ = write!(
            text,
            ", to {}{unit} over {}",
            stage.target,
            format_stage_duration(stage.duration)
        );
    }
    text
}

/// `500 ms`, `2 s`, `1.5 s`, `90 s`: as stages are usually written.
fn format_stage_duration(duration: std::time::Duration) -> String {
    if duration < std::time::Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

fn number_cell(us: Option<u64>) -> String {
    number_cell_f(us.map(|v| v as f64))
}

fn number_cell_f(us: Option<f64>) -> String {
    format!(
        "<td class=\"n\">{}</td>",
        us.map_or("-".to_string(), format_us)
    )
}

fn join_counts(counts: &std::collections::BTreeMap<u16, u64>) -> String {
    if counts.is_empty() {
        return "none".to_string();
    }
    counts
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
