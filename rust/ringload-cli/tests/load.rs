//! End-to-end runs of the `ringload` binary against servers started by the tests.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn exact_request_count_matches_the_server() {
    let server = target();
    let report = ringload_json(&["-n", "3000", "-c", "8", "-t", "2", &url(&server, "/")]);
    assert_eq!(count(&report, "requests"), 3000);
    assert_eq!(count(&report, "ok"), 3000);
    assert_eq!(server.requests(), 3000, "server-side count");
    assert_eq!(report["status"]["200"], 3000);
    assert_eq!(count(&report, "aborted"), 0);
    assert_eq!(report["model"], "closed");
    assert!(report["latency_us"]["p99"].as_u64().unwrap() > 0);
    // "hello from ringload\n" is 20 bytes; every response carries at least that.
    assert!(count(&report, "bytes_read") >= 3000 * 20);
}

#[test]
fn keep_alive_connections_are_reused() {
    let server = target();
    let report = ringload_json(&["-n", "2000", "-c", "4", "-t", "1", &url(&server, "/")]);
    assert_eq!(count(&report, "ok"), 2000);
    assert_eq!(server.connections(), 4, "one connection per -c");
    assert_eq!(count(&report, "connects"), 4);
}

#[test]
fn pipelining_sends_batches_on_few_connections() {
    let server = target();
    let report = ringload_json(&[
        "-n",
        "1600",
        "-c",
        "2",
        "-t",
        "1",
        "--pipeline",
        "8",
        &url(&server, "/"),
    ]);
    assert_eq!(count(&report, "ok"), 1600);
    assert_eq!(server.requests(), 1600);
    assert_eq!(server.connections(), 2);
}

#[test]
fn pipelining_with_a_budget_that_is_not_a_multiple() {
    let server = target();
    let report = ringload_json(&[
        "-n",
        "1003",
        "-c",
        "3",
        "--pipeline",
        "16",
        &url(&server, "/"),
    ]);
    assert_eq!(count(&report, "ok"), 1003);
    assert_eq!(server.requests(), 1003);
}

#[test]
fn connection_refused_is_counted_per_request_and_backs_off() {
    let port = closed_port();
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-n",
        "50",
        "-c",
        "1",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_accounting(&report);
    assert_eq!(count(&report, "requests"), 50);
    assert_eq!(failed(&report, "connect"), 50);
    assert!(report["error_examples"]["connect"]
        .as_str()
        .unwrap()
        .contains("refused"));
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    // With back-off, 50 attempts on one connection cannot take less than a few tens of ms.
    assert!(
        run.elapsed > Duration::from_millis(100),
        "no back-off: {:?}",
        run.elapsed
    );
}

#[test]
fn a_run_in_which_no_request_succeeded_warns_and_still_exits_0() {
    let port = closed_port();
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-n",
        "20",
        "-c",
        "1",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(run.code, 0, "exit code as documented: {}", run.stderr);
    let report = run.json();
    assert_valid_report(&report);
    let warning = "warning: no request succeeded: none of the 20 requests got a response \
                   (connect: 20 (Connection refused";
    assert!(run.stderr.starts_with(warning), "{}", run.stderr);
    assert!(
        report["warnings"][0].as_str().unwrap().starts_with(warning),
        "{report}"
    );
    // Requests that only ran out of time say so too.
    let server = target();
    let report = ringload_json(&["-d", "300ms", "-c", "2", &url(&server, "/delay/5000")]);
    assert_eq!(
        report["warnings"][0],
        "warning: no request succeeded: none of the 2 requests got a response \
         (aborted at the end: 2)"
    );
    let answered = ringload_json(&["-n", "5", &url(&server, "/status/500")]);
    assert_eq!(
        answered["warnings"],
        serde_json::json!([]),
        "a 500 is a response"
    );
}

#[test]
fn server_closing_every_connection_means_reconnects_not_errors() {
    let server = target();
    let report = ringload_json(&["-n", "200", "-c", "2", &url(&server, "/close")]);
    assert_eq!(count(&report, "ok"), 200);
    assert_eq!(count(&report, "connects"), 200);
    assert_eq!(server.requests(), 200);
    assert_eq!(server.connections(), 200);
}

#[test]
fn slow_responses_time_out() {
    let server = target();
    let report = ringload_json(&[
        "-n",
        "4",
        "-c",
        "2",
        "--timeout",
        "300ms",
        &url(&server, "/delay/3000"),
    ]);
    assert_eq!(failed(&report, "timeout"), 4);
    assert_eq!(count(&report, "ok"), 0);
}

#[test]
fn a_trickling_server_still_times_out() {
    // Sends a valid head, then one body byte every 50 ms, forever: per-read timeouts would
    // never fire; the whole-request timeout must.
    let server = HostileServer::play(vec![
        Step::Read,
        Step::send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"),
        Step::Trickle(vec![b'x'; 200], Duration::from_millis(50)),
    ])
    .unwrap();
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-n",
        "2",
        "-c",
        "2",
        "--timeout",
        "500ms",
        &server.url("/"),
    ]);
    let report = run.json();
    assert_accounting(&report);
    assert_eq!(failed(&report, "timeout"), 2);
    assert!(
        run.elapsed < Duration::from_secs(3),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn requests_in_flight_at_the_deadline_are_aborted_and_the_run_ends_on_time() {
    let server = target();
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-d",
        "500ms",
        "-c",
        "4",
        &url(&server, "/delay/5000"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_accounting(&report);
    assert_eq!(count(&report, "aborted"), 4);
    assert_eq!(count(&report, "ok"), 0);
    assert!(
        run.elapsed < Duration::from_millis(1500),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn the_text_report_says_what_aborted_requests_are_only_when_there_are_some() {
    let server = target();
    let run = ringload(&[
        "--no-progress",
        "-d",
        "300ms",
        "-c",
        "2",
        &url(&server, "/delay/5000"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "failed 0  aborted 2 (in flight when the run ended, not counted as failures)  in "
        ),
        "{}",
        run.stdout
    );

    let run = ringload(&["--no-progress", "-n", "20", "-c", "2", &url(&server, "/")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("failed 0  aborted 0  in "),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("in flight"), "{}", run.stdout);
}

#[test]
fn bytes_are_counted_when_written_even_without_a_response() {
    let server = target();
    // The same request length as the /delay/NNNN requests below.
    let answered = ringload_json(&["-n", "1", "-c", "1", &url(&server, "/delay/0000")]);
    let request_bytes = count(&answered, "bytes_written");
    assert!(request_bytes > 0, "{answered}");
    let timed_out = ringload_json(&[
        "-n",
        "4",
        "-c",
        "2",
        "--timeout",
        "300ms",
        &url(&server, "/delay/3000"),
    ]);
    assert_eq!(failed(&timed_out, "timeout"), 4, "{timed_out}");
    assert_eq!(count(&timed_out, "bytes_written"), 4 * request_bytes);
    let cut_by_the_deadline =
        ringload_json(&["-d", "500ms", "-c", "4", &url(&server, "/delay/5000")]);
    assert_eq!(count(&cut_by_the_deadline, "aborted"), 4);
    assert_eq!(
        count(&cut_by_the_deadline, "bytes_written"),
        4 * request_bytes
    );
}

#[test]
fn duration_runs_keep_going_until_the_deadline() {
    let server = target();
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-d",
        "1s",
        "-c",
        "4",
        &url(&server, "/"),
    ]);
    let report = run.json();
    assert_accounting(&report);
    let duration = report["duration_s"].as_f64().unwrap();
    assert!((0.95..1.5).contains(&duration), "duration_s {duration}");
    assert!(count(&report, "ok") > 100);
    assert_eq!(
        server.requests(),
        count(&report, "ok") + count(&report, "aborted")
    );
}

#[test]
fn open_model_paces_requests() {
    let server = target();
    let report = ringload_json(&["-R", "400", "-d", "2s", "-c", "8", &url(&server, "/")]);
    assert_eq!(report["model"], "open");
    let ok = count(&report, "ok");
    assert!(
        (760..=810).contains(&ok),
        "expected ~800 requests at 400/s for 2 s, got {ok}"
    );
    assert!(report["latency_uncorrected_us"]["p50"].as_u64().is_some());
    assert_eq!(report["schedule_lag"]["target_rps"], 400.0);
}

#[test]
fn open_model_with_request_budget_stops_at_n() {
    let server = target();
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-R",
        "1000",
        "-n",
        "300",
        "-c",
        "4",
        &url(&server, "/"),
    ]);
    let report = run.json();
    assert_eq!(count(&report, "ok"), 300);
    assert_eq!(server.requests(), 300);
    // 300 requests at 1000/s take ~0.3 s: the schedule, not the server, sets the pace.
    assert!(
        run.elapsed > Duration::from_millis(250),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn open_model_reports_corrected_latency_when_the_server_stalls() {
    // At 100/s with one connection, a 300 ms response makes the requests due behind it late:
    // the corrected max includes the queueing, the uncorrected one does not.
    let server = target();
    let report = ringload_json(&[
        "-R",
        "100",
        "-n",
        "50",
        "-c",
        "1",
        "-t",
        "1",
        &url(&server, "/delay/30"),
    ]);
    let corrected = report["latency_us"]["max"].as_u64().unwrap();
    let uncorrected = report["latency_uncorrected_us"]["max"].as_u64().unwrap();
    assert!(
        corrected > uncorrected * 2,
        "corrected {corrected} vs uncorrected {uncorrected}"
    );
    assert!(report["schedule_lag"]["max_us"].as_u64().unwrap() > 10_000);
}

#[test]
fn methods_bodies_and_statuses() {
    let server = target();
    let report = ringload_json(&[
        "-n",
        "20",
        "-c",
        "2",
        "-b",
        "hello",
        "-H",
        "Content-Type: text/plain",
        &url(&server, "/echo"),
    ]);
    assert_eq!(report["method"], "POST");
    assert_eq!(count(&report, "ok"), 20);
    assert_eq!(server.path_count("/echo"), 20);

    let report = ringload_json(&[
        "-n",
        "10",
        "-c",
        "1",
        "-m",
        "HEAD",
        &url(&server, "/bytes/5000"),
    ]);
    assert_eq!(count(&report, "ok"), 10);
    assert_eq!(
        count(&report, "connects"),
        1,
        "HEAD responses carry no body: the connection stays usable"
    );

    let report = ringload_json(&["-n", "10", "-c", "1", &url(&server, "/status/503")]);
    assert_eq!(report["status"]["503"], 10);
    let report = ringload_json(&["-n", "10", "-c", "1", &url(&server, "/status/204")]);
    assert_eq!(report["status"]["204"], 10);
    let report = ringload_json(&["-n", "10", "-c", "1", &url(&server, "/chunked/10000")]);
    assert_eq!(count(&report, "ok"), 10);
    assert_eq!(count(&report, "connects"), 1);
}

/// The method of every request head the server recorded, lowercased as recorded.
fn methods_seen(heads: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
    let heads = heads.lock().unwrap();
    heads
        .iter()
        .map(|head| head.split(' ').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_body_means_post_unless_a_method_is_given() {
    for (args, expected) in [
        (&["-b", "hello"][..], "post"),
        (&["-b", "hello", "-m", "PUT"][..], "put"),
        (&[][..], "get"),
    ] {
        let (server, heads) = recording_server();
        let url = server.url("/");
        let mut argv = vec!["-n", "3", "-c", "1"];
        argv.extend_from_slice(args);
        argv.push(&url);
        let report = ringload_json(&argv);
        assert_eq!(count(&report, "ok"), 3, "{args:?}: {report}");
        assert_eq!(report["method"], expected.to_uppercase(), "{args:?}");
        assert_eq!(methods_seen(&heads), vec![expected; 3], "{args:?}");
    }
}

#[test]
fn headers_are_sent() {
    let server = HostileServer::start(|session| {
        if !session.read_request() {
            return;
        }
        let head = session.last_request_head();
        let status = if head.contains("x-api-key: secret\r\n")
            && head.contains("authorization: basic dxnlcjpwyxnz\r\n")
        {
            200
        } else {
            400
        };
        session.send(
            format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
    })
    .unwrap();
    let url = format!("http://user:pass@{}/", server.addr());
    let run = ringload(&[
        "--json",
        "--no-progress",
        "-n",
        "3",
        "-c",
        "1",
        "-H",
        "X-Api-Key: secret",
        &url,
    ]);
    let report = run.json();
    assert_eq!(report["status"]["200"], 3, "{report}");
    assert!(
        !run.stdout.contains("pass"),
        "credentials must not appear in the report"
    );
    assert!(report["url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
}

#[test]
fn epoll_driver_gives_the_same_counts() {
    let server = target();
    let report = ringload_json(&["--io", "epoll", "-n", "1000", "-c", "4", &url(&server, "/")]);
    assert_eq!(report["io"], "epoll");
    assert_eq!(count(&report, "ok"), 1000);
    assert_eq!(server.requests(), 1000);
}

#[test]
fn human_report_shows_latency_percentiles_and_status_codes() {
    let server = target();
    let run = ringload(&["--no-progress", "-n", "200", "-c", "2", &url(&server, "/")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for needle in [
        "Requests: 200",
        "50%",
        "75%",
        "90%",
        "99%",
        "99.9%",
        "99.99%",
        "200: 200",
        "Errors: none",
        "req/s",
    ] {
        assert!(
            run.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stderr.is_empty(),
        "no progress line when stderr is not a terminal: {:?}",
        run.stderr
    );
}

/// Starts `ringload ARGS` with its stdout captured, lets it run `after`, then sends `signal`.
fn run_then_signal(
    args: &[&str],
    after: Duration,
    signal: libc::c_int,
) -> (std::process::Output, Duration) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ringload"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let signalled = std::time::Instant::now();
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    let output = child.wait_with_output().unwrap();
    (output, signalled.elapsed())
}

#[test]
fn ctrl_c_or_sigterm_stops_at_once_with_the_report_and_the_signals_exit_code() {
    // A server that answers after 20 s: requests in flight are aborted, not waited for.
    let server = target();
    let hung = url(&server, "/delay/20000");
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let args = ["--json", "--no-progress", "-d", "60s", "-c", "4", &hung];
        let (output, took) = run_then_signal(&args, Duration::from_millis(700), signal);
        assert_eq!(output.status.code(), Some(code), "signal {signal}");
        // wrk stops within about 0.1 s; the coordinator relays a stop within 20 ms.
        assert!(
            took < Duration::from_secs(1),
            "signal {signal}: took {took:?}"
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_valid_report(&report);
        assert_accounting(&report);
        assert_eq!(report["interrupted"], true, "{report}");
        assert_eq!(count(&report, "aborted"), 4, "the four in flight: {report}");
        assert_eq!(count(&report, "ok"), 0);
        assert!(report["duration_s"].as_f64().unwrap() < 1.5, "{report}");
    }
}

#[test]
fn an_interrupted_run_says_so_and_counts_what_it_measured() {
    let server = target();
    let args = ["--no-progress", "-d", "60s", "-c", "4", &url(&server, "/")];
    let (output, took) = run_then_signal(&args, Duration::from_millis(700), libc::SIGINT);
    assert_eq!(output.status.code(), Some(130));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Interrupted: stopped after"), "{text}");
    assert!(text.contains("Requests: "), "{text}");

    let json = [
        "--json",
        "--no-progress",
        "-d",
        "60s",
        "-c",
        "4",
        &url(&server, "/"),
    ];
    let served_before = server.requests();
    let (output, _) = run_then_signal(&json, Duration::from_millis(700), libc::SIGINT);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_accounting(&report);
    assert_eq!(report["interrupted"], true);
    let (ok, aborted) = (count(&report, "ok"), count(&report, "aborted"));
    assert!(ok > 0, "{report}");
    // A request aborted in flight may or may not have been read by the server.
    let served = server.requests() - served_before;
    assert!(
        ok <= served && served <= ok + aborted,
        "server {served}, ok {ok}, aborted {aborted}"
    );
}

#[test]
fn a_second_ctrl_c_quits_at_once() {
    use std::os::unix::process::ExitStatusExt;
    let server = target();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ringload"))
        .args([
            "--no-progress",
            "-d",
            "60s",
            "-c",
            "2",
            &url(&server, "/delay/20000"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Ctrl-C pressed again and again: two signals sent at once would merge into one.
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGINT);
        }
        // Soon enough that the second lands before the stop the first began is over (2 ms was
        // not always, on a loaded machine), late enough that the first was taken.
        std::thread::sleep(Duration::from_micros(200));
    }
    let output = child.wait_with_output().unwrap();
    // The first restored the default action, which the second then took: no report.
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGINT),
        "{:?}",
        output.status
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn without_io_uring_auto_falls_back_to_epoll_with_one_warning() {
    // monoio's switch makes its io_uring probe fail, as seccomp or
    // kernel.io_uring_disabled would.
    let server = target();
    let no_uring = [("MONOIO_FORCE_LEGACY_DRIVER", "1")];
    let run = ringload_env(
        &[
            "--json",
            "--no-progress",
            "-n",
            "500",
            "-c",
            "4",
            &url(&server, "/"),
        ],
        &no_uring,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one warning line: {:?}",
        run.stderr
    );
    assert!(
        run.stderr.starts_with("warning: io_uring is not available"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["io"], "epoll");
    assert_eq!(count(&report, "ok"), 500);
    assert_eq!(server.requests(), 500);

    let forced = ringload_env(&["--io", "uring", "-n", "5", &url(&server, "/")], &no_uring);
    assert_eq!(forced.code, 1);
    assert!(forced.stderr.contains("--io epoll"), "{}", forced.stderr);
    assert_eq!(
        server.requests(),
        500,
        "nothing sent when the driver cannot start"
    );
}
