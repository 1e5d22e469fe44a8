//! One HTTP/2 connection slot's life: (re)connect, hand the plan's requests (or a native
//! user's, `h2_feed`) to a connection (`h2_driver`), and account what each connection left
//! behind: aborted at the run's end, failed with the connection, or sent on the next one.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::load::config::Http2Options;
use crate::load::connection::{
    sleep_before_deadline, wait_while_idle, WorkerShared, BACKOFF_FIRST, BACKOFF_MAX,
};
use crate::load::demand::{ConnectionSlot, RaiseOnDrop};
use crate::load::h2_driver::{Driver, Ended};
use crate::load::h2_feed::{Feed, Pending, UserTurns};
use crate::load::watchdog::Alarm;
use crate::net::h2_dial::{H2Dialer, H2Transport};
use crate::proto::h2::render::H2Scratch;

/// Runs one connection slot until the plan has no more requests or the run ends. Native users:
/// the slot's user, each on a connection of its own, until the run ends.
pub(crate) async fn run_h2_connection(
    shared: Rc<WorkerShared>,
    dialer: Rc<H2Dialer>,
    slot: Option<ConnectionSlot>,
    options: Http2Options,
) {
    let _raise = RaiseOnDrop(&shared.demand_changed);
    // One per wait that may run at once: the reader's, the writer's, a native user's pause.
    // Made once per slot (a watchdog keeps every alarm it made).
    let (alarm, write_alarm) = (shared.watchdog.alarm(), shared.watchdog.alarm());
    let mut pause_alarm: Option<Rc<Alarm>> = None;
    let mut backoff = BACKOFF_FIRST;
    let mut pending: Vec<Pending> = Vec::with_capacity(options.streams);
    let mut scratch = H2Scratch::default();
    let mut transport: Option<H2Transport> = None;
    let mut requests = shared.requests.clone();
    let mut feed = Feed::plan();
    if !shared.plan.is_closed_model() {
        // Connect before the first due time, as HTTP/1.1 connections do.
        if let Some(Ok(dialed)) = shared.dial(&*dialer, &alarm).await {
            shared.stats.borrow_mut().connects += 1;
            transport = Some(dialed);
        }
    }
    loop {
        if shared.stop.is_requested() {
            break;
        }
        let seen = shared.demand_changed.generation();
        if let Some(idle) = slot.as_ref().and_then(ConnectionSlot::idle) {
            // Not in use (the demand is below this slot, or its user left): no connection
            // until it is.
            if transport.take().is_some() {
                shared.stats.borrow_mut().closes += 1;
            }
            if let Feed::User(turns) = &mut feed {
                turns.leave(&shared);
                feed = Feed::plan();
            }
            // A user's requests left unsent when its connection failed after it left: the
            // run's end would count them aborted; so does the user's.
            shared.abort(&shared.requests, pending.drain(..).map(|p| p.request));
            if !wait_while_idle(&shared, &alarm, idle, seen).await {
                break;
            }
            continue;
        }
        if let Some((slot, current)) = slot.as_ref().and_then(|s| Some((s, s.user()?))) {
            if !matches!(&feed, Feed::User(turns) if Arc::ptr_eq(&turns.user, &current)) {
                // Another user: a connection of its own, as a Locust user has.
                if transport.take().is_some() {
                    shared.stats.borrow_mut().closes += 1;
                }
                if let Feed::User(turns) = &mut feed {
                    turns.leave(&shared);
                }
                shared.abort(&shared.requests, pending.drain(..).map(|p| p.request));
                requests = current.requests.clone();
                let pause_alarm = pause_alarm.get_or_insert_with(|| shared.watchdog.alarm());
                feed = Feed::User(UserTurns::new(&shared, slot, current, pause_alarm.clone()));
            }
        }
        if pending.is_empty() {
            if !feed.next(&shared, &mut pending, options.streams).await {
                if matches!(feed, Feed::User(_)) && !shared.is_over() {
                    // The user left: the slot is idle, or holds another user.
                    continue;
                }
                break;
            }
            // Popped from the end: the earliest due goes first.
            pending.reverse();
        }
        let connection = match transport.take() {
            Some(connection) => connection,
            None => {
                let started = Instant::now();
                match shared.dial(&*dialer, &alarm).await {
                    None => {
                        let picked: Vec<usize> = pending.iter().map(|p| p.request).collect();
                        shared.abort_connecting(&shared.requests, &picked);
                        pending.clear();
                        break;
                    }
                    Some(Err(failure)) => {
                        let picked: Vec<usize> = pending.iter().map(|p| p.request).collect();
                        shared.fail(&shared.requests, &failure, &picked, started);
                        pending.clear();
                        sleep_before_deadline(backoff, shared.deadline).await;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                    Some(Ok(connection)) => {
                        shared.stats.borrow_mut().connects += 1;
                        backoff = BACKOFF_FIRST;
                        connection
                    }
                }
            }
        };
        if matches!(&feed, Feed::User(turns) if !turns.is_current()) {
            // The user left while its connection was being made: nothing was sent for it, and
            // nothing is, with its headers, for another (as on HTTP/1.1, not counted).
            pending.clear();
            transport = Some(connection);
            continue;
        }
        let taken = std::mem::take(&mut pending);
        let mut driver = Driver::new(&shared, options, taken, requests.clone(), &feed);
        let alarms = (&*alarm, &*write_alarm);
        let ended = driver
            .run(connection, alarms, &mut scratch, &mut feed)
            .await;
        pending = std::mem::take(&mut driver.pending);
        let in_flight = std::mem::take(&mut driver.in_flight);
        match ended {
            Ended::RunOver => {
                // The connection ends with the run, as the others do (not counted closed).
                shared.abort(
                    &shared.requests,
                    in_flight.iter().map(|f| f.pending.request),
                );
                break;
            }
            Ended::FeedDone => {
                if !matches!(feed, Feed::User(_)) {
                    shared.stats.borrow_mut().closes += 1;
                    break;
                }
                if shared.is_over() {
                    // The connection ends with the run, as the others do (not counted closed).
                    break;
                }
                // The user left and its last requests ended.
                shared.stats.borrow_mut().closes += 1;
            }
            Ended::Drained => {
                shared.stats.borrow_mut().closes += 1;
            }
            Ended::Failed(failure) => {
                shared.stats.borrow_mut().closes += 1;
                for f in &in_flight {
                    shared.fail_one(f.pending.request, &failure, f.sent_at);
                }
                // Requests not sent yet go out on the next connection.
            }
        }
    }
    if let Feed::User(turns) = &mut feed {
        turns.leave(&shared);
    }
    // Taken from the plan, never sent: the run ended first.
    shared.abort(&shared.requests, pending.iter().map(|p| p.request));
}
