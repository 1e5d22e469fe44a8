//! `--stage DURATION:RATE` (an open-model ramp) and `--connection-stage DURATION:N` (a
//! closed-model one): the ramp's shape in the timeline, its total, and bad stages refused
//! before any connection.

mod common;

use common::*;
use serde_json::Value;

fn timeline(report: &Value) -> &Vec<Value> {
    report["timeline"].as_array().expect("timeline")
}

fn field(entry: &Value, key: &str) -> f64 {
    entry[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key} in {entry}"))
}

/// Within `tolerance` requests of `expected` (workers' shares and tick boundaries move a few).
fn near(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance
}

#[test]
fn a_rate_ramp_follows_its_stages_and_totals_the_area_under_them() {
    let server = target();
    // 0 -> 400 req/s over 2 s, then 400 for 1 s: 400 + 400 requests in 3 s.
    let report = ringload_json(&[
        "-c",
        "8",
        "--stage",
        "2s:400",
        "--stage",
        "1s:400",
        &url(&server, "/"),
    ]);
    assert_eq!(report["model"], "open");
    assert_eq!(field(&report, "duration_s"), 3.0, "the stages' length");
    assert!(near(field(&report, "requests"), 800.0, 4.0), "{report}");
    assert_eq!(report["ok"], report["requests"]);
    let entries = timeline(&report);
    assert_eq!(entries.len(), 3);
    // Due per second: 100, 300, 400; the timeline shows the target and what was done.
    for (entry, expected) in entries.iter().zip([100.0, 300.0, 400.0]) {
        assert_eq!(field(entry, "target_rps"), expected, "{entry}");
        assert!(near(field(entry, "ok"), expected, 12.0), "{entry}");
        assert!(entry["latency_uncorrected_us"]["p50"].is_u64());
    }
    // A ramp's target is its average over the run.
    assert!(near(
        field(&report["schedule_lag"], "target_rps"),
        266.67,
        0.01
    ));
    assert_eq!(report["schedule_lag"]["behind"], false, "{report}");
}

#[test]
fn a_ramp_starts_from_the_rate_and_a_longer_duration_holds_the_last_one() {
    let server = target();
    // 100 -> 300 over 1 s (200 requests), then -d holds 300 for another second.
    let report = ringload_json(&[
        "-c",
        "4",
        "-R",
        "100",
        "--stage",
        "1s:300",
        "-d",
        "2s",
        &url(&server, "/"),
    ]);
    assert_eq!(field(&report, "duration_s"), 2.0);
    assert!(near(field(&report, "requests"), 500.0, 4.0), "{report}");
    let targets: Vec<f64> = timeline(&report)
        .iter()
        .map(|e| field(e, "target_rps"))
        .collect();
    assert_eq!(targets, [200.0, 300.0]);
    // A ramp down to 0 sends nothing once it is there.
    let report = ringload_json(&[
        "-c",
        "2",
        "-R",
        "200",
        "--stage",
        "1s:0",
        "-d",
        "2s",
        &url(&server, "/"),
    ]);
    assert!(near(field(&report, "requests"), 100.0, 2.0), "{report}");
    assert_eq!(timeline(&report)[1]["requests"], 0, "{report}");
    assert_eq!(report["schedule_lag"]["unsent"], 0, "{report}");
}

#[test]
fn connection_stages_open_and_close_connections_along_the_ramp() {
    let server = target();
    // Up to 4 connections in 0.5 s, 4 until 2 s, down to 0 at 2.5 s, none until 3 s.
    let report = ringload_json(&[
        "--connection-stage",
        "500ms:4",
        "--connection-stage",
        "1500ms:4",
        "--connection-stage",
        "500ms:0",
        "--connection-stage",
        "500ms:0",
        &url(&server, "/"),
    ]);
    assert_eq!(report["model"], "closed");
    assert_eq!(report["connections"], 4, "the ramp's peak");
    assert!(near(field(&report, "duration_s"), 3.0, 0.15), "{report}");
    let entries = timeline(&report);
    let open: Vec<u64> = entries
        .iter()
        .map(|e| e["connections_open"].as_u64().unwrap())
        .collect();
    assert_eq!(open, [4, 4, 0], "{report}");
    // Each connection opened once on the way up; none is open at the end.
    assert_eq!(report["connects"], 4, "{report}");
    assert!(entries.iter().all(|e| e["ok"].as_u64().unwrap() > 0));
    assert_eq!(report["failed"]["connect"], 0);
}

#[test]
fn stages_in_a_scenario_file_ramp_the_same_way() {
    let server = target();
    let dir = std::env::temp_dir().join(format!("ringload-stages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ramp.toml");
    std::fs::write(
        &file,
        format!(
            "host = \"http://{}\"\nstages = [{{ duration = \"1s\", rate = 200 }}]\n\n\
             [[requests]]\npath = \"/\"\n",
            server.addr()
        ),
    )
    .unwrap();
    let report = ringload_json(&["-c", "2", "--scenario", file.to_str().unwrap()]);
    assert_eq!(field(&report, "duration_s"), 1.0);
    assert!(near(field(&report, "requests"), 100.0, 2.0), "{report}");
}

#[test]
fn bad_stages_exit_2_before_any_connection() {
    let server = target();
    let target_url = url(&server, "/");
    let cases: [&[&str]; 8] = [
        &["--stage", "0s:100"],
        &["--stage", "1s:-5"],
        &["--stage", "1s"],
        &["--stage", "soon:100"],
        &["--connection-stage", "1s:0"],
        &["--connection-stage", "1s:4", "-c", "4"],
        &["--connection-stage", "1s:4", "-R", "100"],
        &["--connection-stage", "1s:4", "--stage", "1s:100"],
    ];
    for args in cases {
        let mut all = args.to_vec();
        all.push(&target_url);
        let run = ringload(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "{args:?}: one line: {}",
            run.stderr
        );
    }
    assert_eq!(server.requests(), 0);
    assert_eq!(server.connections(), 0);
}

#[test]
fn latency_stays_corrected_when_a_ramp_outruns_the_connections() {
    let server = target();
    // Two connections and 20 ms responses carry about 100 req/s; the ramp asks for 0 -> 600
    // over 1.5 s (450 due), so sends fall ever further behind their due times.
    let report = ringload_json(&[
        "-c",
        "2",
        "-t",
        "1",
        "--stage",
        "1500ms:600",
        &url(&server, "/delay/20"),
    ]);
    assert_eq!(report["model"], "open");
    let lag = &report["schedule_lag"];
    assert_eq!(lag["behind"], true, "{lag}");
    assert!(lag["unsent"].as_u64().unwrap() > 100, "{lag}");
    let corrected = report["latency_us"]["p50"].as_u64().unwrap();
    let uncorrected = report["latency_uncorrected_us"]["p50"].as_u64().unwrap();
    assert!(
        (20_000..40_000).contains(&uncorrected),
        "from the send: about the 20 ms the server takes, {uncorrected} us"
    );
    assert!(
        corrected > 2 * uncorrected,
        "from the due time, waiting for a connection counts: {corrected} vs {uncorrected} us"
    );
    let last = timeline(&report).last().unwrap();
    assert!(
        field(&last["latency_us"], "p50") > field(&last["latency_uncorrected_us"], "p50"),
        "{last}"
    );
    // The advice names what set the rate: the stages, not -R.
    let warning = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.contains("schedule fell behind"))
        .unwrap_or_else(|| panic!("no fell-behind warning in {report}"));
    assert!(
        warning.contains("(the ramp's average)") && warning.ends_with("lower the --stage rates"),
        "{warning}"
    );
    assert!(!warning.contains("-R"), "{warning}");
}

/// Runs `args` against the target, sends SIGINT after `after`, and returns the report and
/// how long the process took.
fn interrupted(args: &[&str], after: std::time::Duration) -> (Value, std::time::Duration) {
    let started = std::time::Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ringload"))
        .args(["--json", "--no-progress"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{:?}", output.status);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_accounting(&report);
    assert_eq!(report["interrupted"], true, "{report}");
    (report, started.elapsed())
}

#[test]
fn ctrl_c_ends_a_ramp_at_once_even_between_its_slow_first_requests() {
    let server = target();
    let target_url = url(&server, "/");
    let second = std::time::Duration::from_secs(1);
    // 0 -> 4 connections over a minute: most connections wait for their turn.
    let (report, took) = interrupted(&["--connection-stage", "60s:4", &target_url], second);
    assert!(took < 3 * second, "connection ramp took {took:?} to stop");
    assert!(report["ok"].as_u64().unwrap() > 0, "{report}");
    // 0 -> 2 req/s over a minute: the first request is due after ~5.5 s.
    let (report, took) = interrupted(&["-c", "4", "--stage", "60s:2", &target_url], second);
    assert!(took < 3 * second, "rate ramp took {took:?} to stop");
    assert_eq!(report["aborted"], 0, "{report}");
}

#[test]
fn a_request_budget_ends_a_connection_ramp_when_it_is_spent() {
    let server = target();
    let started = std::time::Instant::now();
    let report = ringload_json(&[
        "--connection-stage",
        "60s:8",
        "-n",
        "300",
        &url(&server, "/"),
    ]);
    assert_eq!(report["ok"], 300, "{report}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
}
