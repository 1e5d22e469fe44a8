//! The open model's truthfulness: requests leave at their due times (to the microsecond, not
//! the millisecond), the run lasts the duration asked for, a schedule the connections cannot
//! carry is reported, and a run ends on time with its aborted requests explained. Assertions
//! use the engine's own lag figures and counts, not the wall clock.

mod common;

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;

#[test]
fn requests_leave_at_their_due_times_on_both_drivers() {
    let server = target();
    for io in ["uring", "epoll"] {
        let report = ringload_json(&[
            "-R",
            "2000",
            "-d",
            "2s",
            "-c",
            "16",
            "-t",
            "1",
            "--io",
            io,
            &url(&server, "/"),
        ]);
        let lag = &report["schedule_lag"];
        // 2 s at 2,000/s: exactly 4,000 due times, each sent or counted unsent.
        assert_eq!(
            count(&report, "requests") + lag["unsent"].as_u64().unwrap(),
            4000,
            "{io}: {report}"
        );
        assert_eq!(lag["behind"], false, "{io}: {lag}");
        // A millisecond timer releases requests up to 1 ms late in bursts (median lag ~500 us
        // or more); the pacer's median is the machine's wake-up latency, tens of us.
        let p50 = lag["p50_us"].as_u64().unwrap();
        assert!(p50 < 400, "{io}: median send lag {p50} us: {lag}");
        assert!(lag["p99_us"].as_u64().unwrap() <= lag["max_us"].as_u64().unwrap());
        assert!(
            report["warnings"].as_array().unwrap().is_empty(),
            "{report}"
        );
    }
}

#[test]
fn dense_due_times_go_out_at_responses_instead_of_a_timer_expiry_each() {
    let server = target();
    // Due times 25 us apart on 64 connections: requests are always in flight, and their
    // responses wake the worker about as often as due times come.
    let report = ringload_json(&[
        "-R",
        "40000",
        "-d",
        "1s",
        "-c",
        "64",
        "-t",
        "1",
        &url(&server, "/"),
    ]);
    let lag = &report["schedule_lag"];
    let requests = count(&report, "requests");
    assert_eq!(
        requests + lag["unsent"].as_u64().unwrap(),
        40_000,
        "{report}"
    );
    let expiries = lag["timer_expiries"].as_u64().unwrap();
    let wakeups = lag["wakeups"].as_u64().unwrap();
    // A timer on every due time would expire 40,000 times.
    assert!(expiries * 4 < requests, "{lag}");
    assert!(wakeups > 0 && wakeups <= requests, "{lag}");
    assert!(lag["requests_per_wakeup"].as_f64().unwrap() >= 1.0, "{lag}");
}

#[test]
fn an_open_model_run_lasts_the_duration_asked_for() {
    let server = target();
    // Due at 0, 1/3, ..., 5/3 s: six requests in 2 s is 3 req/s, not 6 in the 1.67 s the
    // last one took.
    let report = ringload_json(&["-R", "3", "-d", "2s", "-c", "2", &url(&server, "/")]);
    assert_eq!(count(&report, "ok"), 6, "{report}");
    assert_eq!(report["duration_s"], 2.0);
    assert_eq!(report["rps"], 3.0);
    // One request due in 2 s at 0.5/s: 0.5 req/s, not one request over its own latency.
    let report = ringload_json(&["-R", "0.5", "-d", "2s", "-c", "1", &url(&server, "/")]);
    assert_eq!(count(&report, "ok"), 1, "{report}");
    assert_eq!(report["duration_s"], 2.0);
    assert_eq!(report["rps"], 0.5);
}

#[test]
fn a_rate_the_connections_cannot_carry_is_reported_as_behind() {
    let server = target();
    // Two connections and 20 ms responses carry 100 req/s; 1,000 are asked for.
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-R",
        "1000",
        "-d",
        "1s",
        "-c",
        "2",
        "-t",
        "1",
        &url(&server, "/delay/20"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let lag = &report["schedule_lag"];
    assert_eq!(lag["behind"], true, "{lag}");
    let unsent = lag["unsent"].as_u64().unwrap();
    assert!(unsent > 500, "{lag}");
    assert_eq!(count(&report, "requests") + unsent, 1000, "{report}");
    assert!(report["rps"].as_f64().unwrap() < 200.0, "{report}");
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("schedule fell behind")),
        "{report}"
    );
    assert!(
        run.stderr.contains("the schedule fell behind") && run.stderr.contains("-c"),
        "{}",
        run.stderr
    );
    let text = ringload(&[
        "--no-progress",
        "-R",
        "1000",
        "-d",
        "500ms",
        "-c",
        "1",
        &url(&server, "/delay/20"),
    ]);
    assert!(
        text.stdout.contains("FELL BEHIND") && text.stdout.contains("p99"),
        "{}",
        text.stdout
    );
}

/// Runs ringload with the open-file limit set to `soft`/`hard` before it starts.
fn ringload_with_file_limit(soft: u64, hard: u64, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringload"));
    command.args(args);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command.output().expect("run ringload");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_soft_open_file_limit_is_raised_and_a_hard_limit_too_low_is_reported() {
    let server = target();
    let target_url = url(&server, "/");
    let args = [
        "--json",
        "--no-progress",
        "-c",
        "300",
        "-t",
        "1",
        "-n",
        "600",
        target_url.as_str(),
    ];
    // A soft limit of 200 under a hard one of 1,000 is raised: all 300 connections open
    // (each takes one of the first 300 requests), where ~190 would have hit EMFILE.
    let (code, stdout, stderr) = ringload_with_file_limit(200, 1000, &args);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(count(&report, "connects"), 300, "{report}");
    assert_eq!(count(&report, "ok"), 600, "{report}");
    assert!(!stderr.contains("open files"), "{stderr}");

    // A hard limit of 200 cannot be raised: the run says so before it starts, and in the JSON.
    let (code, stdout, stderr) = ringload_with_file_limit(200, 200, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("300 connections need about 364 open files")
            && stderr.contains("ulimit -n"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("open files"),
        "{report}"
    );
}

#[test]
fn requests_still_connecting_at_the_end_are_aborted_while_connecting() {
    // A listener that never accepts, with the shortest accept queue: the kernel completes a
    // handshake or two, then drops further SYNs, so those connects hang until the deadline.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: re-listening on our own socket only changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let port = listener.local_addr().unwrap().port();
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-c",
        "20",
        "-t",
        "1",
        "-d",
        "500ms",
        "--connect-timeout",
        "10s",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_accounting(&report);
    let connecting = count(&report, "aborted_connecting");
    assert!(connecting >= 15, "{report}");
    assert!(connecting <= count(&report, "aborted"));
    assert_eq!(count(&report, "ok"), 0);
    assert!(
        run.stderr.contains(&format!(
            "{connecting} requests were aborted while connecting"
        )),
        "{}",
        run.stderr
    );
    // The connect timeout is far off: the run's end, not the timeout, ended the attempts.
    assert!(report["duration_s"].as_f64().unwrap() < 1.5, "{report}");

    let text = ringload(&[
        "--no-progress",
        "-c",
        "20",
        "-t",
        "1",
        "-d",
        "300ms",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert!(text.stdout.contains("while connecting)"), "{}", text.stdout);
    drop(listener);
}
