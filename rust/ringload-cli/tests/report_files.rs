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

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
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

    let stats = csv_rows(&dir.join("run_stats.csv"));
    assert_eq!(
        stats[0][..7],
        ["method", "name", "requests", "ok", "failed", "aborted", "rps"]
    );
    assert_eq!(
        stats.len(),
        3,
        "header, the endpoint, Aggregated: {stats:?}"
    );
    assert_eq!(stats[2][1], "Aggregated");
    assert_eq!(stats[2][2], report["requests"].to_string());
    assert!(stats.iter().all(|row| row.len() == stats[0].len()));

    let history = csv_rows(&dir.join("run_stats_history.csv"));
    assert_eq!(history.len(), 1 + entries(&report).len(), "{history:?}");
    assert!(history.iter().all(|row| row.len() == history[0].len()));
    let column = |name: &str| history[0].iter().position(|c| c == name).unwrap();
    let requests: u64 = history[1..]
        .iter()
        .map(|row| row[column("requests")].parse::<u64>().unwrap())
        .sum();
    assert_eq!(requests, report["requests"].as_u64().unwrap());
    assert!(history[1][column("uncorrected_p99_us")]
        .parse::<u64>()
        .is_ok());
    assert_eq!(
        history[1][column("status")],
        format!("200:{}", entries(&report)[0]["ok"])
    );
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
