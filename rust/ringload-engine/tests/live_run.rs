//! A run driven through its handle ([`ringload_engine::Run`]): progress while it runs, and its
//! connections changed while it runs, as Locust changes its user count.

use std::sync::Arc;
use std::time::Duration;

use ringload_engine::{LoadConfig, Run, RunError, RunEvent};
use ringload_target::Server;

mod common;
use common::{serial, target};

fn closed_run(server: &Server, connections: usize, seconds: u64) -> LoadConfig {
    let mut config = LoadConfig::new(&format!("http://{}/", server.addr())).unwrap();
    config.connections = Some(connections);
    config.threads = Some(2);
    config.duration = Some(Duration::from_secs(seconds));
    config
}

#[test]
fn connections_follow_the_demand_set_while_the_run_runs() {
    let _serial = serial();
    let server = target();
    let plan = closed_run(&server, 6, 5).plan().unwrap();
    let mut run = Run::start(&plan, Arc::default()).unwrap();
    let mut ticks = 0;
    while let Some(event) = run.next_event() {
        if let RunEvent::Progress(progress) = event {
            ticks += 1;
            assert!(progress.ok > 0, "requests flow at every tick");
            match ticks {
                1 => run.set_connections(2).unwrap(),
                3 => run.set_connections(5).unwrap(),
                _ => {}
            }
        }
    }
    let report = run.finish().unwrap();
    let open: Vec<u64> = report.timeline.iter().map(|e| e.connections_open).collect();
    // Connections open at the end of each second: down to two, then up to five. (Which second
    // shows each level depends on when the ticks came, on a busy machine; and a snapshot taken
    // a hair after a second ends holds what happened in that hair, so the demand stays two for
    // two whole seconds.)
    let lowered = open.iter().position(|&n| n == 2);
    assert!(lowered.is_some(), "{open:?}");
    assert!(open[..lowered.unwrap()].iter().all(|&n| n > 2), "{open:?}");
    assert_eq!(open.last(), Some(&5), "{open:?}");
    // Six at the start, three more when the demand rose again: none was reopened otherwise.
    assert_eq!(server.connections(), 9);
    assert!(report.outcomes.failed.values().all(|&n| n == 0));
    assert_eq!(
        report.outcomes.requests,
        report.outcomes.ok + report.outcomes.aborted
    );
}

#[test]
fn a_demand_is_bounded_by_the_connections_the_run_started_with() {
    let _serial = serial();
    let server = target();
    let plan = closed_run(&server, 2, 1).plan().unwrap();
    let run = Run::start(&plan, Arc::default()).unwrap();
    assert!(matches!(
        run.set_connections(3),
        Err(RunError::AboveConnectionCeiling {
            asked: 3,
            ceiling: 2
        })
    ));
    run.set_connections(0).unwrap();
    let report = run.finish().unwrap();
    assert!(!report.interrupted);
}

#[test]
fn a_scheduled_run_keeps_its_schedule() {
    let _serial = serial();
    let server = target();
    let mut config = closed_run(&server, 2, 1);
    config.rate = Some(100.0);
    let run = Run::start(&config.plan().unwrap(), Arc::default()).unwrap();
    assert!(matches!(
        run.set_connections(1),
        Err(RunError::FixedConnections)
    ));
    run.finish().unwrap();
}

#[test]
fn a_dropped_run_stops_and_joins_its_workers() {
    let _serial = serial();
    let server = target();
    let plan = closed_run(&server, 2, 3600).plan().unwrap();
    let started = std::time::Instant::now();
    drop(Run::start(&plan, Arc::default()).unwrap());
    assert!(started.elapsed() < Duration::from_secs(5));
    let threads = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("ringload-worke"))
        .count();
    assert_eq!(threads, 0, "no worker outlives its run");
}

#[test]
fn a_run_with_a_request_budget_keeps_its_connections() {
    let _serial = serial();
    let server = target();
    let mut config = closed_run(&server, 4, 1);
    config.duration = None;
    config.requests = Some(2_000);
    let run = Run::start(&config.plan().unwrap(), Arc::default()).unwrap();
    // Each worker spends its share of the budget: one left with no connection never would.
    assert!(matches!(
        run.set_connections(1),
        Err(RunError::FixedConnections)
    ));
    let report = run.finish().unwrap();
    assert_eq!(report.outcomes.requests, 2_000);
}

#[test]
fn a_raised_demand_opens_its_connections_at_once() {
    let _serial = serial();
    let server = target();
    let plan = closed_run(&server, 4, 30).plan().unwrap();
    let stop: Arc<ringload_engine::StopSignal> = Arc::default();
    let run = Run::start(&plan, stop.clone()).unwrap();
    run.set_connections(0).unwrap();
    // Everything that was open closes, then the count comes back.
    let closed_by = std::time::Instant::now() + Duration::from_secs(5);
    while server.connections() < 4 && std::time::Instant::now() < closed_by {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = server.connections();
    let raised = std::time::Instant::now();
    run.set_connections(4).unwrap();
    while server.connections() < before + 4 && raised.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.request();
    let report = run.finish().unwrap();
    assert!(report.interrupted);
    // Idle connections no longer look again on their own: only the relayed change (within the
    // five seconds waited, of a 30 s run) can have reopened them.
    assert_eq!(server.connections(), before + 4, "four reopened");
}
