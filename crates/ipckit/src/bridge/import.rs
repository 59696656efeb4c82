//! The importer's loop: pull messages from the JetStream subject into the local
//! object, each acknowledged only once it is there, through the state file's phases
//! (the protocol is in the module contract, `mod.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

use super::local::{Local, LocalMessage};
use super::state::{Phase, StateFile, hash};

use crate::error::{Error, ErrorKind, Result};

use super::{
    HEADER_MAX, HEADER_MTYPE, HEADER_PRIORITY, Idle, Options, Stats, connect, ensure_stream, nats_err,
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
    if st.rec.phase == Phase::Moving {
        // Killed around a local send. A channel tells from the mark whether it
        // happened; elsewhere we cannot, and send again (at least once) rather than
        // risk losing it. (For those objects this importer writes only "done"
        // records, and a kill before one has the same outcome: the message is put in
        // again. A "moving" record there comes from an older importer.)
        let s = st.rec.seq;
        let done = local.was_put(st.rec.mark)?.unwrap_or(false);
        st.idle(if done { s } else { s.saturating_sub(1) })?;
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

    'outer: while !stop.load(Ordering::Relaxed) {
        let mut messages = match consumer
            .stream()
            .max_messages_per_batch(opts.batch)
            .heartbeat(Duration::from_secs(2))
            .expires(Duration::from_secs(10))
            .messages()
            .await
        {
            Ok(m) => {
                failed_pulls = 0;
                m
            }
            Err(e) => {
                stats.set_error(format!("pull: {e}; retrying"));
                failed_pulls += 1;
                if failed_pulls >= 5 {
                    remake(&mut consumer, &mut just_made, &stream, opts, st.rec.seq, stats).await;
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
        while !stop.load(Ordering::Relaxed) {
            // Whatever has already arrived is taken without waiting; the acknowledgement
            // of the run goes out when nothing more is ready (or the run is long).
            let ready = match futures_util::FutureExt::now_or_never(messages.next()) {
                Some(r) => Some(r),
                None => {
                    ack_run(&mut unacked, &mut since_ack, stats).await;
                    tokio::time::timeout(Duration::from_millis(100), messages.next()).await.ok()
                }
            };
            let next = match ready {
                None if quiet_since.elapsed() >= QUIET_REPULL => {
                    // Made again from the message after the last one put in, so nothing
                    // the dropped pull had on its way is skipped.
                    remake(&mut consumer, &mut just_made, &stream, opts, st.rec.seq, stats).await;
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
                remake(&mut consumer, &mut just_made, &stream, opts, st.rec.seq, stats).await;
                continue 'outer;
            }
            just_made = false;
            stats.in_flight.store(1, Ordering::Relaxed);
            let h = next.headers.as_ref();
            let get = |name: &str| h.and_then(|h| h.get(name)).and_then(|v| v.as_str().parse::<i64>().ok());
            let tag = get(HEADER_MTYPE).or_else(|| get(HEADER_PRIORITY)).unwrap_or(1);
            let body = next.payload.to_vec();
            if body.len() > local_max {
                ack_run(&mut unacked, &mut since_ack, stats).await;
                let src = get(HEADER_MAX).map(|m| format!("{m} bytes")).unwrap_or_else(|| "unknown".into());
                return Err(Error::new("put", local.object(), ErrorKind::LimitExceeded).with_detail(format!(
                    "message {seq} of subject {} has {} bytes: the local object takes up to {local_limit}, \
                     the source object up to {src}; it stays in the stream, unacknowledged",
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
            loop {
                // A channel records where the message goes before it goes (exactly once);
                // the other objects write no record before the send.
                let mut mark = |m| st.moving_at(seq, msg.tag, msg.body.len(), hash(msg.tag, &msg.body), m);
                if local.try_put_marked(&msg, &mut mark)? {
                    break;
                }
                // Full: back-pressure. What was put in is acknowledged now, and the
                // server is kept from redelivering this one meanwhile.
                ack_run(&mut unacked, &mut since_ack, stats).await;
                if stop.load(Ordering::Relaxed) {
                    let _ = next.ack_with(jetstream::AckKind::Nak(None)).await;
                    let _ = client.flush().await;
                    return Ok(());
                }
                if progress.elapsed() > opts.ack_wait / 3 {
                    let _ = next.ack_with(jetstream::AckKind::Progress).await;
                    progress = Instant::now();
                }
                idle.wait();
                if idle.rounds() % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            st.idle(seq)?;
            stats.moved.fetch_add(1, Ordering::Relaxed);
            stats.in_flight.store(0, Ordering::Relaxed);
            unacked = Some(next);
            since_ack += 1;
            if since_ack >= opts.batch {
                ack_run(&mut unacked, &mut since_ack, stats).await;
            }
        }
        ack_run(&mut unacked, &mut since_ack, stats).await;
    }
    let _ = client.flush().await;
    Ok(())
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
