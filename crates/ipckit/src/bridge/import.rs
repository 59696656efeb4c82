//! The importer's loop: pull messages from the JetStream subject into the local
//! object, each acknowledged only once it is there, through the state file's phases;
//! with early delivery, also take the next message of the exporter whose last message
//! went in from a core NATS subscription, ahead of its stream copy, which is then
//! skipped (the protocol is in the module contract, `mod.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

use super::local::{Local, LocalMessage};
use super::state::{Phase, Record, StateFile, hash};

use crate::error::{Error, ErrorKind, Object, Result};

use super::{
    HEADER_MAX, HEADER_MTYPE, HEADER_PRIORITY, Idle, Options, Pace, Stats, connect, ensure_stream,
    flush_briefly, nats_err, spin_once, unless_stopped,
};

pub(super) async fn import_async(
    local: &Local,
    opts: &Options,
    stop: &AtomicBool,
    stats: &Arc<Stats>,
) -> Result<()> {
    let client = connect(opts, stats.clone()).await?;
    let js = jetstream::new(client.clone());
    let stream = ensure_stream(&js, opts).await?;
    let (local_max, local_limit) = local.max_body();
    let mut st = StateFile::open(&opts.state)?;
    match st.rec.phase {
        Phase::Idle => {}
        Phase::Spooled => {
            return Err(Error::new(
                "open state file",
                Object::Path(opts.state.clone()),
                ErrorKind::InvalidInput,
            )
            .with_detail("it is an exporter's (each bridge needs a state file of its own)"));
        }
        // Killed around a local send ("putting" recorded, "done" not). A channel
        // tells from the mark whether it happened; a queue or a FIFO keeps no
        // evidence, so the message is put in again (at least once, never lost), and
        // that it may now be there twice is told.
        Phase::Moving => {
            let (s, src) = (st.rec.seq, st.rec.src);
            let put = local.was_put(st.rec.mark)?;
            if put == Some(true) {
                st.done(s, src)?;
            } else {
                if put.is_none() {
                    tell_maybe_twice(local, opts, stats, &format!("stream message {s}"));
                }
                // Nothing after `s - 1` went in: the consumer starts at `s`, and no
                // source id is needed to skip anything.
                st.done(s.saturating_sub(1), None)?;
            }
        }
        // The same for a message that came ahead of the stream: it was the successor
        // of the one before, from the same exporter.
        Phase::Ahead => {
            let (s, src) = (st.rec.seq, st.rec.src);
            let put = local.was_put(st.rec.mark)?;
            if put == Some(true) {
                st.done(s, src)?;
            } else {
                if let (None, Some((n, e))) = (put, src) {
                    tell_maybe_twice(local, opts, stats, &format!("message {e} of exporter {n:016x}"));
                }
                st.done(s, src.and_then(|(n, e)| e.checked_sub(1).map(|e| (n, e))))?;
            }
        }
    }
    let mut consumer = fresh_consumer(&stream, opts, st.rec.seq).await?;
    // Whether the stream holds our subject only (as the streams the bridge makes do):
    // then its sequence numbers have no gaps, and a message after a gap means one
    // was lost on the way (a pull cut by a server restart); with `AckPolicy::All`, its
    // successor's acknowledgement would cover it, so the consumer is made again from
    // the message after the last one put in, once; a gap that is still there after
    // that is messages gone from the stream (its limits), and accepted.
    let single_subject = stream.cached_info().config.subjects == [opts.subject.clone()];
    let mut just_made = true;
    // Pulls that failed in a row: after a server restart the consumer may be gone (its
    // creation not yet on disk when the server was killed), then it is made again.
    let mut failed_pulls = 0u32;
    // Early delivery: the subject's messages as they are published, each put in at
    // once when it is the successor (by source id) of the last one put in. Only on a
    // stream of our subject alone, whose exporter's messages are stored in id order.
    // While the importer is behind (its stream copies come before their early ones
    // are read, so early messages only cost the server and this end a second
    // delivery), the subscription is dropped; it is made again once the consumer has
    // had nothing for a moment.
    let early_wanted = opts.early_delivery && single_subject;
    let mut early = if early_wanted {
        Some(client.subscribe(opts.subject.clone()).await.map_err(|e| {
            nats_err("subscribe", opts, ErrorKind::Other, format!("subject {}: {e}", opts.subject))
        })?)
    } else {
        None
    };
    // Messages put in from the stream in a row while subscribed.
    let mut missed_early = 0u32;
    // Whether the record's stream sequence moved on without being written (stream
    // copies of messages already put in early): written with the next acknowledgement.
    let mut unrecorded = false;

    'outer: while !stop.load(Ordering::Relaxed) {
        let pull = consumer
            .stream()
            .max_messages_per_batch(opts.batch)
            .heartbeat(Duration::from_secs(2))
            .expires(Duration::from_secs(10))
            .messages();
        let Some(pull) = unless_stopped(stop, pull).await else { break };
        let mut messages = match pull {
            Ok(m) => {
                failed_pulls = 0;
                m
            }
            Err(e) => {
                stats.set_error(format!("pull: {e}; retrying"));
                failed_pulls += 1;
                if failed_pulls >= 5 {
                    unless_stopped(
                        stop,
                        remake(&mut consumer, &mut just_made, &stream, opts, st.rec.seq, stats),
                    )
                    .await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        // When nothing at all arrives for a while, the pull is made again: a pull
        // request the server lost in a restart would otherwise leave this end waiting
        // for messages that never come (seen after a server killed with SIGKILL).
        let mut quiet_since = Instant::now();
        // The last message put in and not yet acknowledged: with `AckPolicy::All` one
        // acknowledgement covers it and every message before it, so a run of messages
        // that arrive together costs one.
        let mut unacked: Option<jetstream::Message> = None;
        let mut since_ack = 0usize;
        // Whether that run holds only stream copies of messages put in early: their
        // acknowledgement and record wait for a longer run or a pause (they protect
        // nothing not already in, and sending them between two early messages would
        // cost every round trip a wake-up of the server and a state write).
        let mut only_copies = false;
        // Soon after a message went in, the next is looked for without sleeping.
        let mut pace = Pace::new(opts.spin);
        while !stop.load(Ordering::Relaxed) {
            // Whatever has already arrived is taken without waiting; the acknowledgement
            // of the run goes out when nothing more is ready (or the run is long).
            let ready = match futures_util::FutureExt::now_or_never(messages.next()) {
                Some(r) => Some(r),
                None => {
                    let defer = only_copies && unacked.is_some() && since_ack < opts.batch;
                    if !defer {
                        settle_run(&mut unacked, &mut since_ack, &mut unrecorded, &mut st, stats).await?;
                    }
                    let pause = if early_wanted && early.is_none() {
                        EARLY_AGAIN
                    } else if defer {
                        COPIES_PAUSE
                    } else {
                        Duration::from_millis(100)
                    };
                    let waited = if pace.spinning() {
                        // Soon after a message: look again without sleeping (for a
                        // stream message at the top of the loop).
                        spin_once().await;
                        match futures_util::FutureExt::now_or_never(next_early(&mut early)) {
                            Some(m) => Err(m),
                            None => continue,
                        }
                    } else {
                        tokio::select! {
                            biased;
                            m = next_early(&mut early) => Err(m),
                            r = tokio::time::timeout(pause, messages.next()) => Ok(r.ok()),
                        }
                    };
                    match waited {
                        Ok(None) if early_wanted && early.is_none() => {
                            // Caught up: early delivery again (a failure is retried at
                            // the next pause).
                            match client.subscribe(opts.subject.clone()).await {
                                Ok(sub) => early = Some(sub),
                                Err(e) => stats.set_error(format!("subscribe: {e}")),
                            }
                            missed_early = 0;
                            continue;
                        }
                        Ok(None) if defer => {
                            // A pause: the copies are acknowledged and recorded now.
                            settle_run(&mut unacked, &mut since_ack, &mut unrecorded, &mut st, stats).await?;
                            continue;
                        }
                        Ok(r) => r,
                        Err(m) => {
                            if put_early(local, &mut st, &m, local_max, stats)? {
                                missed_early = 0;
                                pace.mark();
                            }
                            continue;
                        }
                    }
                }
            };
            let next = match ready {
                None if quiet_since.elapsed() >= QUIET_REPULL => {
                    // Made again from the message after the last one put in, so nothing
                    // the dropped pull had on its way is skipped.
                    unless_stopped(
                        stop,
                        remake(&mut consumer, &mut just_made, &stream, opts, st.rec.seq, stats),
                    )
                    .await;
                    continue 'outer;
                }
                None => continue,
                Some(None) => {
                    ack_run(&mut unacked, &mut since_ack, stats).await;
                    continue 'outer;
                }
                Some(Some(Err(e))) => {
                    stats.set_error(format!("pull: {e}"));
                    continue;
                }
                Some(Some(Ok(m))) => {
                    quiet_since = Instant::now();
                    m
                }
            };
            let seq = match next.info() {
                Ok(info) => info.stream_sequence,
                Err(e) => {
                    stats.set_error(format!("a message without JetStream metadata: {e}"));
                    continue;
                }
            };
            if seq <= st.rec.seq {
                // A redelivery of a message already put in: acknowledged with the run
                // (one older than the run's last is covered by that one's ack).
                match &unacked {
                    Some(u) if u.info().map(|i| i.stream_sequence).unwrap_or(0) > seq => {}
                    _ => unacked = Some(next),
                }
                continue;
            }
            if single_subject && seq > st.rec.seq + 1 && !just_made {
                stats.set_error(format!(
                    "message {seq} came after {}: the messages between were lost on the way; pulling again from {}",
                    st.rec.seq,
                    st.rec.seq + 1
                ));
                ack_run(&mut unacked, &mut since_ack, stats).await;
                unless_stopped(stop, remake(&mut consumer, &mut just_made, &stream, opts, st.rec.seq, stats))
                    .await;
                continue 'outer;
            }
            just_made = false;
            let src = source_id(next.headers.as_ref());
            if let (Some((n, e)), Some((last_n, last_e))) = (src, st.rec.src)
                && n == last_n
                && e <= last_e
            {
                // Put in early: only its stream sequence is new, recorded with the run.
                st.rec.seq = seq;
                unrecorded = true;
                if unacked.is_none() {
                    only_copies = true;
                }
                unacked = Some(next);
                since_ack += 1;
                if since_ack >= opts.batch {
                    ack_run(&mut unacked, &mut since_ack, stats).await;
                }
                continue;
            }
            stats.in_flight.store(1, Ordering::Relaxed);
            let tag = tag_of(next.headers.as_ref());
            let body = next.payload.to_vec();
            if body.len() > local_max {
                ack_run(&mut unacked, &mut since_ack, stats).await;
                let source_max = next
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(HEADER_MAX))
                    .and_then(|v| v.as_str().parse::<u64>().ok())
                    .map(|m| format!("{m} bytes"))
                    .unwrap_or_else(|| "unknown".into());
                return Err(Error::new("put", local.object(), ErrorKind::LimitExceeded).with_detail(format!(
                    "message {seq} of subject {} has {} bytes: the local object takes up to {local_limit}, \
                     the source object up to {source_max}; it stays in the stream, unacknowledged",
                    opts.subject,
                    body.len()
                )));
            }
            let msg = LocalMessage { tag, body };
            if let Err(e) = local.check(&msg) {
                ack_run(&mut unacked, &mut since_ack, stats).await;
                return Err(Error::new("put", local.object(), e.kind()).with_detail(format!(
                    "message {seq} of subject {} cannot be put in, and stays in the stream, \
                     unacknowledged: {e}",
                    opts.subject
                )));
            }
            let mut idle = Idle::new();
            let mut progress = Instant::now();
            let before = st.rec;
            let mut retry = false;
            loop {
                // "Putting" is recorded before the put: a channel's with where the
                // message goes (exactly once), a queue's or FIFO's as the one message
                // a kill may leave in doubt (see the restart above). A retry goes
                // ahead only if the object may have room.
                if !retry || local.has_room(&msg)? != Some(false) {
                    let mut mark = |m| {
                        st.rec.src = src;
                        st.moving_at(seq, msg.tag, msg.body.len(), hash(msg.tag, &msg.body), m)
                    };
                    if local.try_put_marked(&msg, &mut mark)? {
                        break;
                    }
                    undo_putting(local, &mut st, before)?;
                }
                retry = true;
                // Full: back-pressure. What was put in is acknowledged now, and the
                // server is kept from redelivering this one meanwhile.
                ack_run(&mut unacked, &mut since_ack, stats).await;
                if stop.load(Ordering::Relaxed) {
                    let _ = next.ack_with(jetstream::AckKind::Nak(None)).await;
                    flush_briefly(&client).await;
                    return Ok(());
                }
                if progress.elapsed() > opts.ack_wait / 3 {
                    let _ = next.ack_with(jetstream::AckKind::Progress).await;
                    progress = Instant::now();
                }
                // What came early meanwhile is stale (this message is not in yet):
                // dropped here, not held; the stream brings it.
                if let Some(sub) = early.as_mut() {
                    while let Some(Some(_)) = futures_util::FutureExt::now_or_never(sub.next()) {}
                }
                idle.wait(opts.spin);
                if idle.rounds() % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            st.done(seq, src)?;
            pace.mark();
            unrecorded = false;
            only_copies = false;
            if early.is_some() {
                missed_early += 1;
                if missed_early >= EARLY_GIVE_UP {
                    // Dropping the subscriber unsubscribes.
                    early = None;
                }
            }
            stats.moved.fetch_add(1, Ordering::Relaxed);
            stats.in_flight.store(0, Ordering::Relaxed);
            unacked = Some(next);
            since_ack += 1;
            if since_ack >= opts.batch {
                ack_run(&mut unacked, &mut since_ack, stats).await;
            }
        }
        settle_run(&mut unacked, &mut since_ack, &mut unrecorded, &mut st, stats).await?;
    }
    if unrecorded {
        st.write()?;
    }
    flush_briefly(&client).await;
    Ok(())
}

/// The next message of the early subscription; never, without one (or once it ended).
async fn next_early(early: &mut Option<async_nats::Subscriber>) -> async_nats::Message {
    if let Some(sub) = early {
        if let Some(m) = sub.next().await {
            return m;
        }
        *early = None;
    }
    std::future::pending().await
}

/// Puts a message that came over core NATS in, if it is the successor of the last one
/// put in (same exporter, next number) and the object has room now (`true`);
/// otherwise it is left to its stream copy (which also brings every message this
/// path misses).
fn put_early(
    local: &Local,
    st: &mut StateFile,
    m: &async_nats::Message,
    local_max: usize,
    stats: &Stats,
) -> Result<bool> {
    let Some((n, e)) = source_id(m.headers.as_ref()) else { return Ok(false) };
    match st.rec.src {
        Some((last_n, last_e)) if last_n == n && last_e.checked_add(1) == Some(e) => {}
        _ => return Ok(false),
    }
    let msg = LocalMessage { tag: tag_of(m.headers.as_ref()), body: m.payload.to_vec() };
    // Too large, or not fit for the object: the stream copy stops the importer with
    // the error, and the message stays in the stream.
    if msg.body.len() > local_max || local.check(&msg).is_err() {
        return Ok(false);
    }
    let seq = st.rec.seq;
    let before = st.rec;
    let mut mark = |mark| st.ahead((n, e), msg.tag, msg.body.len(), hash(msg.tag, &msg.body), mark);
    if local.try_put_marked(&msg, &mut mark)? {
        st.done(seq, Some((n, e)))?;
        stats.moved.fetch_add(1, Ordering::Relaxed);
        stats.early.fetch_add(1, Ordering::Relaxed);
        return Ok(true);
    }
    undo_putting(local, st, before)?;
    Ok(false)
}

/// After a put that found the object full: the "putting" record written for it goes
/// back to `before`, so that a kill while the importer waits for room leaves no doubt
/// (nothing went in) — unless part of a FIFO frame did.
fn undo_putting(local: &Local, st: &mut StateFile, before: Record) -> Result<()> {
    if st.rec != before && !local.put_begun() {
        st.rec = before;
        st.write()?;
    }
    Ok(())
}

/// Counts and tells a message a killed importer was putting into `local` when it
/// died, put in again now: the object may hold it twice.
fn tell_maybe_twice(local: &Local, opts: &Options, stats: &Stats, which: &str) {
    stats.maybe_twice.fetch_add(1, Ordering::Relaxed);
    stats.notify(
        opts,
        format!(
            "MAYBE TWICE: the previous importer was killed while putting {which} of subject {} into {} ({}), \
             which keeps no trace of a send that a restart could read: it is put in again and may now be there \
             twice",
            opts.subject,
            local.object(),
            local.kind(),
        ),
    );
}

/// The message's source id: its `Nats-Msg-Id` as an exporter writes it
/// (`<name in 16 hex digits>-<number>`), if it is one.
fn source_id(h: Option<&async_nats::HeaderMap>) -> Option<(u64, u64)> {
    let id = h?.get(async_nats::header::NATS_MESSAGE_ID)?.as_str();
    let (name, number) = id.split_once('-')?;
    if name.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(name, 16).ok()?, number.parse().ok()?))
}

/// The System V type or POSIX priority a message carries (1 when none).
fn tag_of(h: Option<&async_nats::HeaderMap>) -> i64 {
    let get = |name: &str| h.and_then(|h| h.get(name)).and_then(|v| v.as_str().parse::<i64>().ok());
    get(HEADER_MTYPE).or_else(|| get(HEADER_PRIORITY)).unwrap_or(1)
}

/// Acknowledges the run's last message, if any, and with it (`AckPolicy::All`) every
/// message before it; the run starts again from nothing. Sent, not waited for: a lost
/// acknowledgement costs a redelivery, which the state record skips.
async fn ack_run(unacked: &mut Option<jetstream::Message>, since_ack: &mut usize, stats: &Stats) {
    if let Some(m) = unacked.take()
        && let Err(e) = m.ack().await
    {
        stats.set_error(format!("ack: {e}"));
    }
    *since_ack = 0;
}

/// [`ack_run`], and writes the record if its stream sequence moved on unwritten
/// (`unrecorded`: stream copies of messages put in early, recorded with their
/// acknowledgement).
async fn settle_run(
    unacked: &mut Option<jetstream::Message>,
    since_ack: &mut usize,
    unrecorded: &mut bool,
    st: &mut StateFile,
    stats: &Stats,
) -> Result<()> {
    ack_run(unacked, since_ack, stats).await;
    if std::mem::take(unrecorded) {
        st.write()?;
    }
    Ok(())
}

/// Makes the consumer again from the message after `last` (see [`fresh_consumer`]);
/// a failure (the server away) is reported in the status and left to the next pull.
async fn remake(
    consumer: &mut consumer::Consumer<consumer::pull::Config>,
    just_made: &mut bool,
    stream: &jetstream::stream::Stream,
    opts: &Options,
    last: u64,
    stats: &Stats,
) {
    match fresh_consumer(stream, opts, last).await {
        Ok(c) => {
            *consumer = c;
            *just_made = true;
        }
        Err(e) => stats.set_error(e.to_string()),
    }
}

/// How long a run of stream copies of early messages waits for more before it is
/// acknowledged and recorded.
const COPIES_PAUSE: Duration = Duration::from_millis(20);

/// Messages put in from the stream in a row, while subscribed for early delivery,
/// after which the subscription is dropped (the importer is behind).
const EARLY_GIVE_UP: u32 = 64;

/// How long the consumer must bring nothing before early delivery is taken up again.
const EARLY_AGAIN: Duration = Duration::from_millis(2);

/// How long a pull may bring nothing before it is made again.
const QUIET_REPULL: Duration = Duration::from_secs(5);

/// (Re-)creates the importer's durable consumer, delivering from the message after
/// `last` (the last one put in), whatever the consumer's own record says: after a
/// crash its un-acknowledged messages would otherwise come back only after
/// `ack_wait`, behind newer ones.
async fn fresh_consumer(
    stream: &jetstream::stream::Stream,
    opts: &Options,
    last: u64,
) -> Result<consumer::Consumer<consumer::pull::Config>> {
    let _ = stream.delete_consumer(&opts.durable).await;
    let config = consumer::pull::Config {
        durable_name: Some(opts.durable.clone()),
        filter_subject: opts.subject.clone(),
        ack_policy: consumer::AckPolicy::All,
        ack_wait: opts.ack_wait,
        max_ack_pending: i64::try_from(opts.batch * 4).unwrap_or(1024),
        deliver_policy: if last == 0 {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence { start_sequence: last + 1 }
        },
        ..Default::default()
    };
    stream.create_consumer(config).await.map_err(|e| {
        nats_err(
            "create consumer",
            opts,
            ErrorKind::Other,
            format!("durable {} on stream {}: {e}", opts.durable, opts.stream),
        )
    })
}
