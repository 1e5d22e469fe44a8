//! The run over time: the JSON `timeline`, `--html FILE` and `--csv PREFIX`, checked against
//! real runs on the built-in target. (tests/test_html_report.py opens the HTML in Chromium.)

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A fresh directory for one test's files.
fn out_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringload-files-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(report: &Value) -> &Vec<Value> {
    report["timeline"].as_array().expect("timeline")
}

#[test]
fn a_closed_run_has_one_entry_per_second_and_a_shorter_last_one() {
    let server = target();
    let report = ringload_json(&["-c", "4", "-d", "2600ms", &url(&server, "/")]);
    let timeline = entries(&report);
    assert_eq!(timeline.len(), 3, "{report}");
    let durations: Vec<f64> = timeline
        .iter()
        .map(|e| e["duration_s"].as_f64().unwrap())
        .collect();
    assert_eq!(&durations[..2], [1.0, 1.0]);
    assert!((0.55..=0.7).contains(&durations[2]), "{durations:?}");
    for entry in timeline {
        assert!(
            entry["ok"].as_u64().unwrap() > 0,
            "a second without responses: {entry}"
        );
        assert!(entry["latency_us"]["p99"].as_u64().is_some());
        assert!(entry.get("latency_uncorrected_us").is_none());
        let rps = entry["ok"].as_f64().unwrap() / entry["duration_s"].as_f64().unwrap();
        assert!((entry["rps"].as_f64().unwrap() - rps).abs() <= 0.01 * rps + 1.0);
        assert_eq!(entry["connections_open"], 4, "{entry}");
    }
    assert_eq!(timeline[0]["connects"], 4);
}

#[test]
fn an_open_run_shows_its_rate_and_both_latencies_each_second() {
    let server = target();
    let report = ringload_json(&["-R", "400", "-c", "4", "-d", "3s", &url(&server, "/")]);
    let timeline = entries(&report);
    assert_eq!(timeline.len(), 3, "{report}");
    for entry in timeline {
        let ok = entry["ok"].as_u64().unwrap();
        // 400 due per second; a snapshot tick may move a few across a boundary.
        assert!((380..=420).contains(&ok), "{entry}");
        let corrected = entry["latency_us"]["p50"].as_u64().unwrap();
        let uncorrected = entry["latency_uncorrected_us"]["p50"].as_u64().unwrap();
        assert!(corrected >= uncorrected, "{entry}");
    }
}

#[test]
fn failures_and_status_codes_are_counted_in_their_seconds() {
    // Nothing listens: every request fails to connect, in the second it failed in.
    let report = ringload_json(&[
        "-c",
        "1",
        "-d",
        "1500ms",
        &format!("http://127.0.0.1:{}/", closed_port()),
    ]);
    let timeline = entries(&report);
    assert_eq!(timeline.len(), 2, "{report}");
    assert!(timeline
        .iter()
        .all(|e| e["failed"]["connect"].as_u64().unwrap() > 0));
    assert!(timeline.iter().all(|e| e["latency_us"]["p50"].is_null()));

    let server = target();
    let report = ringload_json(&["-n", "50", "-c", "2", &url(&server, "/status/503")]);
    assert_eq!(entries(&report)[0]["status"]["503"], 50, "{report}");
}

/// The rows of a CSV file, quoted fields (RFC 4180) unquoted.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    assert!(
        row.is_empty() && cell.is_empty(),
        "{}: no final newline",
        path.display()
    );
    rows
}

/// Locust's `StatsCSV.requests_csv_columns` with its `PERCENTILES_TO_REPORT` (locust/stats.py;
/// tests/test_run_report.py checks them against the installed Locust).
const LOCUST_STATS_COLUMNS: [&str; 22] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
];

/// Locust's `stats_history_csv_columns`.
const LOCUST_HISTORY_COLUMNS: [&str; 24] = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
];

const LOCUST_FAILURES_COLUMNS: [&str; 6] = [
    "Method",
    "Name",
    "Error",
    "Occurrences",
    "First Seen",
    "Last Seen",
];

/// A CSV table's cell by row and column name.
struct Table(Vec<Vec<String>>);

impl Table {
    fn read(path: &Path) -> Table {
        let rows = csv_rows(path);
        assert!(
            rows.iter().all(|row| row.len() == rows[0].len()),
            "{rows:?}"
        );
        Table(rows)
    }

    fn header(&self) -> &[String] {
        &self.0[0]
    }

    fn rows(&self) -> &[Vec<String>] {
        &self.0[1..]
    }

    fn cell<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        let index = self
            .header()
            .iter()
            .position(|c| c == column)
            .unwrap_or_else(|| panic!("no column {column} in {:?}", self.header()));
        &row[index]
    }

    fn number(&self, row: &[String], column: &str) -> f64 {
        let cell = self.cell(row, column);
        cell.parse()
            .unwrap_or_else(|_| panic!("{column} is {cell:?}, not a number"))
    }
}

/// Microseconds as Locust's whole milliseconds.
fn whole_ms(us: &Value) -> f64 {
    (us.as_f64().unwrap() / 1000.0).round()
}

#[test]
fn html_and_csv_files_are_written_next_to_the_json() {
    let server = target();
    let dir = out_dir("both");
    let html = dir.join("report.html");
    let prefix = dir.join("run");
    let report = ringload_json(&[
        "-R",
        "300",
        "-c",
        "2",
        "-d",
        "2500ms",
        "--html",
        html.to_str().unwrap(),
        "--csv",
        prefix.to_str().unwrap(),
        &url(&server, "/"),
    ]);

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    for id in [
        "chart-rps",
        "chart-latency",
        "chart-outcomes",
        "chart-connections",
        "chart-spectrum",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "no {id} chart");
    }
    // Both latencies are plotted in the open model, and the page loads nothing.
    assert!(page.contains("p99 uncorrected"));
    assert!(page.contains(&format!(">{}<", report["url"].as_str().unwrap())));
    for external in ["src=", "href=", "url(", "@import", "<script", "<link"] {
        assert!(!page.contains(external), "the page has {external}");
    }

    // Locust's --csv files: its columns first, in its order, then ringload's.
    let stats = Table::read(&dir.join("run_stats.csv"));
    assert_eq!(stats.header()[..22], LOCUST_STATS_COLUMNS);
    assert_eq!(
        stats.header()[22..27],
        ["requests", "ok", "failed", "aborted", "rps"]
    );
    let names: Vec<(&str, &str)> = stats
        .rows()
        .iter()
        .map(|row| (stats.cell(row, "Type"), stats.cell(row, "Name")))
        .collect();
    assert_eq!(names, [("GET", "/"), ("", "Aggregated")]);
    let total = &stats.rows()[1];
    let completed = count(&report, "ok") + failed_sum(&report);
    assert_eq!(stats.number(total, "Request Count"), completed as f64);
    assert_eq!(stats.number(total, "Failure Count"), 0.0);
    let latency = &report["latency_us"];
    assert_eq!(
        stats.number(total, "Median Response Time"),
        whole_ms(&latency["p50"])
    );
    assert_eq!(stats.number(total, "99%"), whole_ms(&latency["p99"]));
    assert_eq!(stats.number(total, "100%"), whole_ms(&latency["max"]));
    for (column, key) in [
        ("Min Response Time", "min"),
        ("Max Response Time", "max"),
        ("Average Response Time", "mean"),
    ] {
        let ms = stats.number(total, column);
        assert!(
            (ms - latency[key].as_f64().unwrap() / 1000.0).abs() < 0.001,
            "{column} {ms} ms, {key} {} us",
            latency[key]
        );
    }
    let rps = completed as f64 / report["duration_s"].as_f64().unwrap();
    assert!((stats.number(total, "Requests/s") - rps).abs() < 0.01);
    assert_eq!(stats.number(total, "Failures/s"), 0.0);
    // ringload's own columns keep the microseconds and the JSON's counts.
    assert_eq!(
        stats.number(total, "requests"),
        count(&report, "requests") as f64
    );
    assert_eq!(
        stats.cell(total, "latency_p99_us"),
        latency["p99"].to_string()
    );
    assert_eq!(
        stats.cell(total, "uncorrected_p99_us"),
        report["latency_uncorrected_us"]["p99"].to_string()
    );

    // The history: Locust's default, one Aggregated row a second, rates of that second,
    // percentiles and totals since the start, the connections open as its users.
    let history = Table::read(&dir.join("run_stats_history.csv"));
    assert_eq!(history.header()[..24], LOCUST_HISTORY_COLUMNS);
    let timeline = entries(&report);
    assert_eq!(history.rows().len(), timeline.len());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut timestamps = Vec::new();
    let mut total_requests = 0;
    for (row, entry) in history.rows().iter().zip(timeline) {
        assert_eq!(
            (history.cell(row, "Type"), history.cell(row, "Name")),
            ("", "Aggregated")
        );
        timestamps.push(history.number(row, "Timestamp"));
        assert_eq!(
            history.cell(row, "User Count"),
            entry["connections_open"].to_string()
        );
        let second = entry["ok"].as_u64().unwrap() + failed_sum(entry);
        total_requests += second;
        assert_eq!(
            history.number(row, "Total Request Count"),
            total_requests as f64
        );
        let rate = second as f64 / entry["duration_s"].as_f64().unwrap();
        assert!((history.number(row, "Requests/s") - rate).abs() < 1e-6 * rate + 1e-6);
        assert_eq!(history.cell(row, "requests"), entry["requests"].to_string());
        assert_eq!(
            history.cell(row, "latency_p99_us"),
            entry["latency_us"]["p99"].to_string()
        );
    }
    // Unix seconds, one row a second, within the run.
    assert!(timestamps.windows(2).all(|w| w[1] > w[0]), "{timestamps:?}");
    assert!(timestamps[0] > now - 60.0 && *timestamps.last().unwrap() <= now + 1.0);
    // The last row's totals are the whole run's: the Aggregated row of the stats.
    let last = history.rows().last().unwrap();
    for (total_column, column) in [
        ("Total Request Count", "Request Count"),
        ("Total Median Response Time", "Median Response Time"),
        ("Total Max Response Time", "Max Response Time"),
        ("100%", "100%"),
        ("99%", "99%"),
    ] {
        assert_eq!(
            history.cell(last, total_column),
            stats.cell(total, column),
            "{total_column}"
        );
    }

    // Nothing failed: the failures file is Locust's header alone.
    let failures = Table::read(&dir.join("run_failures.csv"));
    assert_eq!(failures.header(), LOCUST_FAILURES_COLUMNS);
    assert!(failures.rows().is_empty());
}

/// The failures of every kind in a report or a timeline entry.
fn failed_sum(entry: &Value) -> u64 {
    entry["failed"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

#[test]
fn failures_go_to_the_csv_as_locust_counts_them() {
    let dir = out_dir("failures");
    let prefix = dir.join("down");
    // Nothing listens: every request fails to connect.
    let report = ringload_json(&[
        "-c",
        "1",
        "-d",
        "1200ms",
        "--csv",
        prefix.to_str().unwrap(),
        &format!("http://127.0.0.1:{}/down", closed_port()),
    ]);
    let refused = failed(&report, "connect");
    assert!(refused > 0, "{report}");

    let failures = Table::read(&dir.join("down_failures.csv"));
    assert_eq!(failures.header(), LOCUST_FAILURES_COLUMNS);
    let [row] = failures.rows() else {
        panic!("one row: {:?}", failures.rows());
    };
    assert_eq!(
        (failures.cell(row, "Method"), failures.cell(row, "Name")),
        ("GET", "/down")
    );
    let error = failures.cell(row, "Error");
    assert_eq!(
        error,
        format!(
            "connect: {}",
            report["error_examples"]["connect"].as_str().unwrap()
        )
    );
    assert_eq!(failures.number(row, "Occurrences"), refused as f64);
    // Seconds of the run, as Locust writes them.
    for column in ["First Seen", "Last Seen"] {
        let seen = failures.cell(row, column);
        assert!(
            seen.len() == 20 && seen.ends_with('Z') && seen.as_bytes()[10] == b'T',
            "{column} {seen:?}"
        );
    }
    assert!(failures.cell(row, "First Seen") <= failures.cell(row, "Last Seen"));

    // Failed requests are requests and failures to Locust; nothing completed: N/A percentiles.
    let stats = Table::read(&dir.join("down_stats.csv"));
    let total = &stats.rows()[1];
    assert_eq!(stats.number(total, "Request Count"), refused as f64);
    assert_eq!(stats.number(total, "Failure Count"), refused as f64);
    assert!(stats.number(total, "Failures/s") > 0.0);
    assert_eq!(stats.cell(total, "50%"), "N/A");
    assert_eq!(stats.cell(total, "Median Response Time"), "0");
    assert_eq!(stats.number(total, "failed_connect"), refused as f64);
    let history = Table::read(&dir.join("down_stats_history.csv"));
    assert!(history
        .rows()
        .iter()
        .all(|row| history.cell(row, "100%") == "N/A" && history.number(row, "Failures/s") > 0.0));
}

/// The `d` attribute of each line drawn in the chart `id` of an HTML report, in order.
fn chart_paths(page: &str, id: &str) -> Vec<String> {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let chart = &page[start..start + page[start..].find("</figure>").unwrap()];
    chart
        .split("<path class=\"series\"")
        .skip(1)
        .map(|element| {
            let d = &element[element.find(" d=\"").expect("d attribute") + 4..];
            d[..d.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn the_latency_chart_leaves_a_gap_where_nothing_completed() {
    let server = target();
    let dir = out_dir("gap");
    let html = dir.join("gap.html");
    // One request every 2.5 s: the second second has no response, the first and third one.
    let report = ringload_json(&[
        "-R",
        "0.4",
        "-c",
        "1",
        "-d",
        "3200ms",
        "--html",
        html.to_str().unwrap(),
        &url(&server, "/"),
    ]);
    let ok: Vec<u64> = entries(&report)
        .iter()
        .map(|e| e["ok"].as_u64().unwrap())
        .collect();
    assert_eq!(ok, [1, 0, 1], "{report}");
    let page = std::fs::read_to_string(&html).unwrap();

    // p50, p90, p99, max corrected, then three uncorrected: each two dots, no line between.
    let latency = chart_paths(&page, "chart-latency");
    assert_eq!(latency.len(), 7, "{latency:?}");
    for path in &latency {
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert!(!path.contains('L'), "a line across the gap: {path}");
    }
    // Throughput was measured every second: 0 responses/s is a point on its line.
    let throughput = &chart_paths(&page, "chart-rps")[0];
    assert_eq!(throughput.matches('M').count(), 1, "{throughput}");
    assert_eq!(throughput.matches('L').count(), 2, "{throughput}");
}

/// The cells of the latency table's row headed `name`, or `None` when it has none.
fn latency_row(page: &str, name: &str) -> Option<Vec<String>> {
    let start = page.find(&format!("<tr><th>{name}</th>"))?;
    let row = &page[start..start + page[start..].find("</tr>")?];
    Some(
        row.split("<td class=\"n\">")
            .skip(1)
            .map(|cell| cell.trim_end_matches("</td>").to_string())
            .collect(),
    )
}

#[test]
fn the_html_report_has_connect_tls_and_first_byte_rows() {
    let (server, _pem) = tls_target();
    let dir = out_dir("phases");
    let html = dir.join("tls.html");
    let report = ringload_json(&[
        "-n",
        "40",
        "-c",
        "2",
        "--disable-keepalive",
        "--insecure",
        "--html",
        html.to_str().unwrap(),
        &format!("https://127.0.0.1:{}/", server.addr().port()),
    ]);
    assert_eq!(report["ok"], 40, "{report}");
    let page = std::fs::read_to_string(&html).unwrap();
    // min, mean, six percentiles, max: every one a time (us, ms or s), none missing (`-`).
    for (name, key) in [
        ("Connect (new connections)", "connect_us"),
        ("TLS handshake", "tls_us"),
        ("Time to first byte", "ttfb_us"),
    ] {
        assert!(report[key]["p50"].as_u64().is_some(), "{key}: {report}");
        let cells = latency_row(&page, name).unwrap_or_else(|| panic!("no {name} row"));
        assert_eq!(cells.len(), 9, "{name}: {cells:?}");
        assert!(cells.iter().all(|c| c.ends_with('s')), "{name}: {cells:?}");
    }

    // Over http there is no handshake to show.
    let plain = target();
    let html = dir.join("plain.html");
    ringload_json(&[
        "-n",
        "10",
        "-c",
        "1",
        "--html",
        html.to_str().unwrap(),
        &url(&plain, "/"),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(latency_row(&page, "TLS handshake").is_none());
    assert_eq!(latency_row(&page, "Time to first byte").unwrap().len(), 9);
}

/// The value of the configuration table's row headed `name`.
fn configuration(page: &str, name: &str) -> String {
    let start = page
        .find(&format!("<tr><th>{name}</th><td>"))
        .unwrap_or_else(|| panic!("no {name} row"))
        + format!("<tr><th>{name}</th><td>").len();
    page[start..start + page[start..].find("</td>").unwrap()].to_string()
}

#[test]
fn the_html_configuration_shows_the_stages_asked_for() {
    let server = target();
    let dir = out_dir("stages");
    let html = dir.join("rate.html");
    ringload_json(&[
        "-c",
        "2",
        "-R",
        "100",
        "--stage",
        "300ms:200",
        "--stage",
        "1200ms:0",
        "--html",
        html.to_str().unwrap(),
        &url(&server, "/"),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        configuration(&page, "Model"),
        "open, from 100 req/s, to 200 req/s over 300 ms, to 0 req/s over 1.2 s \
         (110.0 req/s on average)"
    );
    assert_eq!(configuration(&page, "Connections"), "2");

    let html = dir.join("connections.html");
    ringload_json(&[
        "--connection-stage",
        "300ms:3",
        "--connection-stage",
        "200ms:1",
        "--html",
        html.to_str().unwrap(),
        &url(&server, "/"),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(configuration(&page, "Model").starts_with("closed"));
    assert_eq!(
        configuration(&page, "Connections"),
        "3 at the peak, from 0, to 3 over 300 ms, to 1 over 200 ms"
    );
}

#[test]
fn a_report_path_in_a_missing_directory_exits_2_before_any_request() {
    let server = target();
    for option in ["--html", "--csv"] {
        let run = ringload(&[
            "-n",
            "5",
            option,
            "/nonexistent-dir/report",
            &url(&server, "/"),
        ]);
        assert_eq!(run.code, 2, "{option}: {}", run.stderr);
        assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    }
    assert_eq!(server.requests(), 0);
}

#[test]
fn the_html_report_of_a_scenario_has_every_row_and_its_errors() {
    let server = target();
    let dir = out_dir("scenario");
    let scenario = dir.join("mix.toml");
    std::fs::write(
        &scenario,
        format!(
            "host = \"http://{}\"\n\n[[requests]]\nname = \"home <&>\"\npath = \"/\"\n\n\
             [[requests]]\nname = \"missing\"\npath = \"/status/404\"\n",
            server.addr()
        ),
    )
    .unwrap();
    let html = dir.join("mix.html");
    let run = ringload(&[
        "--no-progress",
        "--scenario",
        scenario.to_str().unwrap(),
        "-n",
        "200",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stderr
        .contains(&format!("HTML report: {}", html.display())));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("home &lt;&amp;&gt;"), "names are escaped");
    assert!(page.contains(">missing<") && page.contains(">Aggregated<"));
    assert!(page.contains("HTTP 404/s") && page.contains("HTTP 200/s"));
}

#[test]
fn the_demo_runs_against_its_own_target_and_writes_its_report() {
    let dir = out_dir("demo");
    let html = dir.join("demo.html");
    let run = ringload(&[
        "demo",
        "-d",
        "600ms",
        "-c",
        "4",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Requests: "), "{}", run.stdout);
    let counted = run
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("demo: the target counted "))
        .and_then(|rest| rest.strip_suffix(" requests"))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no count in {}", run.stderr));
    assert!(counted > 0);
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("id=\"chart-rps\""));
    // A demo's requests in flight at its end are aborted: the report says what that means.
    let aborted = run
        .stdout
        .split("aborted ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no aborted count in {}", run.stdout));
    if aborted > 0 {
        assert!(
            run.stdout.contains(&format!(
                "aborted {aborted} (in flight when the run ended, not counted as failures)"
            )),
            "{}",
            run.stdout
        );
    }
    // It ends with what to try next: a real URL, the page it wrote, the CSV, the Locust face.
    let next = run
        .stderr
        .split_once("demo: next steps\n")
        .map(|(_, steps)| steps)
        .unwrap_or_else(|| panic!("no next steps in {}", run.stderr));
    let steps: Vec<&str> = next.lines().collect();
    assert_eq!(steps.len(), 4, "{next}");
    assert!(steps[0].contains("http://HOST:PORT/PATH"), "{next}");
    assert!(
        steps[1].contains(&format!("open {}", html.display())),
        "{next}"
    );
    assert!(
        steps[2].contains("--html") && steps[2].contains("--csv"),
        "{next}"
    );
    assert!(steps[3].contains("python -m ringload.locust"), "{next}");
}

#[test]
fn body_bytes_are_counted_per_row_and_make_locusts_average_content_size() {
    let server = target();
    let dir = out_dir("bodies");
    let scenario = dir.join("bodies.toml");
    std::fs::write(
        &scenario,
        format!(
            "host = \"http://{}\"\n\n[[requests]]\nname = \"fixed\"\npath = \"/bytes/100\"\n\n\
             [[requests]]\nname = \"chunked\"\npath = \"/chunked/300\"\n",
            server.addr()
        ),
    )
    .unwrap();
    let prefix = dir.join("run");
    let report = ringload_json(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "-c",
        "2",
        "-n",
        "400",
        "--csv",
        prefix.to_str().unwrap(),
    ]);
    // Framing removed: a chunked body counts its 300 bytes, not its chunk sizes.
    let rows = report["endpoints"].as_array().unwrap();
    let per_row: Vec<(&str, u64, u64)> = rows
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                count(e, "ok"),
                count(e, "body_bytes"),
            )
        })
        .collect();
    for (name, ok, bytes) in &per_row {
        let size = if *name == "fixed" { 100 } else { 300 };
        assert!(*ok > 0, "{per_row:?}");
        assert_eq!(*bytes, ok * size, "{name}");
    }
    let total: u64 = per_row.iter().map(|r| r.2).sum();
    assert_eq!(count(&report, "body_bytes"), total);
    let by_second: u64 = entries(&report)
        .iter()
        .map(|e| count(e, "body_bytes"))
        .sum();
    assert_eq!(by_second, total);

    let stats = Table::read(&dir.join("run_stats.csv"));
    for row in stats.rows() {
        let expected = match stats.cell(row, "Name") {
            "fixed" => "100.0".to_string(),
            "chunked" => "300.0".to_string(),
            _ => {
                let average = total as f64 / count(&report, "ok") as f64;
                assert_eq!(stats.number(row, "Average Content Size"), average);
                continue;
            }
        };
        assert_eq!(stats.cell(row, "Average Content Size"), expected);
    }
    let history = Table::read(&dir.join("run_stats_history.csv"));
    let last = history.rows().last().unwrap();
    let average = total as f64 / count(&report, "ok") as f64;
    assert!((history.number(last, "Total Average Content Size") - average).abs() < 1e-9);
}
