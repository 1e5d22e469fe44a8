//! A native-users run ([`Run::start_users`]): users added and removed while it runs, each on
//! its own connection with its own headers, a wait between requests, and statistics drained by
//! epoch second.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ringload_engine::{
    LoadConfig, RequestOrder, Run, ScenarioRequest, SecondStats, UserLoop, WaitTime,
};
use ringload_target::Server;

mod common;
use common::{serial, target};

fn request(name: &str, path: &str) -> ScenarioRequest {
    ScenarioRequest {
        name: Some(name.into()),
        method: Some("GET".into()),
        target: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
        weight: 1,
    }
}

fn users_config(server: &Server, scenario: Vec<ScenarioRequest>) -> LoadConfig {
    let mut config = LoadConfig::new(&format!("http://{}", server.addr())).unwrap();
    config.scenario = scenario;
    config.threads = Some(2);
    config
}

/// Sums of what the drains gave: (requests per endpoint, failures, seconds seen).
#[derive(Default)]
struct Drained {
    ok: Vec<u64>,
    failed: u64,
    seconds: Vec<u64>,
    last_done_ms: u64,
}

impl Drained {
    fn add(&mut self, seconds: Vec<SecondStats>) {
        for second in seconds {
            self.seconds.push(second.epoch_second);
            for (i, endpoint) in second.stats.endpoints.iter().enumerate() {
                if self.ok.len() <= i {
                    self.ok.resize(i + 1, 0);
                }
                self.ok[i] += endpoint.ok;
                self.failed += endpoint.failed_total();
                if endpoint.requests() > 0 {
                    let done = second.started_at_ms + endpoint.last_done_us / 1000;
                    self.last_done_ms = self.last_done_ms.max(done);
                }
            }
        }
    }
}

fn by_weight(wait: WaitTime) -> UserLoop {
    UserLoop {
        order: RequestOrder::ByWeight,
        wait,
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn users_come_and_go_on_their_own_connections() {
    let _serial = serial();
    let server = target();
    let plan = users_config(
        &server,
        vec![request("home", "/"), request("echo", "/echo")],
    )
    .plan_for_users()
    .unwrap();
    let before = epoch_ms();
    let mut run = Run::start_users(
        &plan,
        by_weight(WaitTime::Constant(Duration::ZERO)),
        Arc::default(),
    )
    .unwrap();
    let mut drained = Drained::default();
    std::thread::sleep(Duration::from_millis(300));
    let (nothing, _) = run.drain();
    drained.add(nothing);
    assert_eq!(drained.ok.iter().sum::<u64>(), 0, "no user, no request");
    assert_eq!(server.connections(), 0);

    let slots: Vec<usize> = (0..3).map(|_| run.add_user(Vec::new()).unwrap()).collect();
    assert_eq!(slots, [0, 1, 2]);
    assert_eq!(run.user_count(), 3);
    std::thread::sleep(Duration::from_millis(700));
    let (seconds, _) = run.drain();
    drained.add(seconds);
    assert!(drained.ok.iter().all(|&n| n > 0), "both names counted");
    assert!(run.remove_user(1).unwrap());
    assert!(!run.remove_user(1).unwrap(), "already gone");
    assert_eq!(run.user_count(), 2);
    // The slot is free again: a new user takes it, on a new connection.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(run.add_user(Vec::new()).unwrap(), 1);
    std::thread::sleep(Duration::from_millis(500));
    drained.add(run.drain().0);
    drained.add(run.stop_users().unwrap().0);
    let after = epoch_ms();

    assert_eq!(drained.failed, 0);
    // Four users, four connections: the removed one's was closed, not reused.
    assert_eq!(server.connections(), 4);
    // Everything counted was served, and every request served was counted but those in flight
    // at the stop (at most one per user).
    let counted: u64 = drained.ok.iter().sum();
    let served = server.requests();
    assert!(
        counted <= served && served <= counted + 3,
        "{counted} counted, {served} served"
    );
    // Filed under epoch seconds within the run, the last completion too.
    assert!(drained
        .seconds
        .iter()
        .all(|&s| s >= before / 1000 && s <= after / 1000));
    assert!(drained.last_done_ms >= before && drained.last_done_ms <= after);
}

#[test]
fn each_user_sends_its_own_headers_and_waits_between_requests() {
    let _serial = serial();
    let server = target();
    let plan = users_config(&server, vec![request("headers", "/headers")])
        .plan_for_users()
        .unwrap();
    let wait = WaitTime::Constant(Duration::from_millis(100));
    let run = Run::start_users(&plan, by_weight(wait), Arc::default()).unwrap();
    let started = Instant::now();
    run.add_user(vec![("X-Token".into(), "one".into())])
        .unwrap();
    run.add_user(vec![("X-Token".into(), "two".into())])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let mut drained = Drained::default();
    drained.add(run.stop_users().unwrap().0);
    let elapsed = started.elapsed().as_secs_f64();
    let ok = drained.ok[0];
    // Two users, one request per ~100 ms each (plus its few hundred µs).
    let most = 2.0 * (elapsed / 0.1 + 1.0);
    assert!(
        ok >= 12 && ok as f64 <= most,
        "{ok} requests in {elapsed:.2} s"
    );
    assert_eq!(drained.failed, 0);
}

#[test]
fn a_user_removed_while_it_waits_closes_at_once() {
    let _serial = serial();
    let server = target();
    let plan = users_config(&server, vec![request("home", "/")])
        .plan_for_users()
        .unwrap();
    let wait = WaitTime::Constant(Duration::from_secs(30));
    let mut run = Run::start_users(&plan, by_weight(wait), Arc::default()).unwrap();
    let slot = run.add_user(Vec::new()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.requests() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.requests(), 1, "one request, then the 30 s wait");
    run.remove_user(slot).unwrap();
    // Its connection closes well before the wait would have ended: the server sees it go.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut drained = Drained::default();
    while Instant::now() < deadline {
        drained.add(run.drain().0);
        if server.open_connections() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.open_connections(), 0);
    let stopping = Instant::now();
    drained.add(run.stop_users().unwrap().0);
    assert!(stopping.elapsed() < Duration::from_secs(2));
    assert_eq!(drained.ok, [1]);
}

#[test]
fn a_sequence_runs_its_steps_in_order_with_the_iterations_values() {
    let _serial = serial();
    let server = target();
    let plan = users_config(
        &server,
        vec![
            request("product", "/seq/{{rand_int 1 3}}"),
            request("pricing", "/seq/{{rand_int 1 3}}?price"),
            request("other", "/other/{{rand_int 1 3}}"),
        ],
    )
    .plan_for_users()
    .unwrap();
    let users = UserLoop {
        order: RequestOrder::Sequence,
        wait: WaitTime::Constant(Duration::ZERO),
    };
    let run = Run::start_users(&plan, users, Arc::default()).unwrap();
    let slot = run.add_user(Vec::new()).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    run.remove_user(slot).unwrap();
    let mut drained = Drained::default();
    drained.add(run.stop_users().unwrap().0);
    let [product, pricing, other] = drained.ok[..] else {
        panic!("three rows: {:?}", drained.ok);
    };
    // In order: each step follows the one before it, at most one iteration left unfinished.
    assert!(product >= pricing && pricing >= other && product - other <= 1);
    assert!(other > 20, "{other} iterations");
    // The same placeholder gave the same value in both steps of each iteration: every /seq/N
    // was requested twice per iteration (but in an unfinished last one).
    let odd = (1..=3)
        .filter(|n| server.path_count(&format!("/seq/{n}")) % 2 == 1)
        .count();
    assert!(
        odd <= 1,
        "{:?}",
        (1..=3)
            .map(|n| server.path_count(&format!("/seq/{n}")))
            .collect::<Vec<_>>()
    );
    // A placeholder of another text draws its own values: all three turn up.
    assert!((1..=3).all(|n| server.path_count(&format!("/other/{n}")) > 0));
}

#[test]
fn an_arrival_rate_sends_on_schedule_and_counts_from_the_due_time() {
    let _serial = serial();
    let server = target();
    let plan = users_config(
        &server,
        vec![request("home", "/"), request("slow", "/delay/100")],
    )
    .plan_for_users()
    .unwrap();
    let rated = |per_second: f64| UserLoop {
        order: RequestOrder::ByWeight,
        wait: WaitTime::Arrivals(Duration::from_secs_f64(1.0 / per_second)),
    };
    // Fast responses: each of 3 users sends 50 a second, on schedule.
    let fast = users_config(&server, vec![request("home", "/")])
        .plan_for_users()
        .unwrap();
    let mut run = Run::start_users(&fast, rated(50.0), Arc::default()).unwrap();
    for _ in 0..3 {
        run.add_user(Vec::new()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(1000));
    let mut on_time = Drained::default();
    let mut late = 0;
    for seconds in [run.drain().0, run.stop_users().unwrap().0] {
        late += seconds.iter().map(|s| s.schedule().1).sum::<u64>();
        on_time.add(seconds);
    }
    let sent = on_time.ok[0];
    assert!(
        (120..=153).contains(&sent),
        "{sent} sent at 3 x 50/s in 1 s"
    );
    assert_eq!(late, 0);

    // Responses of 100 ms where one is due every 20 ms: the requests queue behind the busy
    // connection, are counted late, and their latency includes the wait.
    let run = Run::start_users(&plan, rated(50.0), Arc::default()).unwrap();
    run.add_user(Vec::new()).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let seconds = run.stop_users().unwrap().0;
    let (sent, late, unsent, _) = seconds
        .iter()
        .map(SecondStats::schedule)
        .fold((0, 0, 0, 0), |(a, b, c, d), (w, x, y, z)| {
            (a + w, b + x, c + y, d.max(z))
        });
    assert!(late > 0 && sent > late, "{sent} sent, {late} late");
    assert!(unsent > 0, "the run ended with requests due and never sent");
    let slowest = seconds
        .iter()
        .flat_map(|s| s.rows())
        .flat_map(|row| row.latencies_ms)
        .map(|(ms, _)| ms)
        .fold(0.0, f64::max);
    assert!(
        slowest > 300.0,
        "latency counts from the due time: {slowest} ms"
    );
}
