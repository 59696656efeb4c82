//! The exporter's loop: move messages from the local object to the JetStream subject,
//! in batches, through the state file's phases, so that a crash at any point neither
//! loses nor duplicates a message (the protocol is in the module contract, `mod.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;

use super::local::{Local, LocalMessage};
use super::state::{self, Phase, StateFile, hash};

use crate::error::{Error, ErrorKind, Result};

use super::{
    HEADER_KIND, HEADER_MAX, HEADER_MTYPE, HEADER_PRIORITY, Idle, Options, Stats, connect, ensure_stream,
    nats_err,
};

fn headers(local: &Local, id: &str, msg: &LocalMessage, max: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", id);
    match local {
        Local::SysvQueue(_) => h.insert(HEADER_MTYPE, msg.tag.to_string().as_str()),
        Local::PosixQueue(_) => h.insert(HEADER_PRIORITY, msg.tag.to_string().as_str()),
        Local::Fifo(_) | Local::Channel(_) => {}
    }
    h.insert(HEADER_MAX, max.to_string().as_str());
    h.insert(HEADER_KIND, local.kind());
    h
}

pub(super) async fn export_async(
    local: &Local,
    opts: &Options,
    stop: &AtomicBool,
    stats: &Arc<Stats>,
) -> Result<()> {
    let client = connect(opts, stats.clone()).await?;
    let js = jetstream::new(client.clone());
    ensure_stream(&js, opts).await?;
    let max_payload = client.server_info().max_payload;
    let (local_max, local_limit) = local.max_body();
    let mut st = StateFile::open(&opts.state)?;
    let name = format!("{:016x}", st.rec.name);
    let mut buf = vec![0u8; local_max.max(64)];

    // Finish what a killed exporter left half done.
    match st.rec.phase {
        Phase::Idle => {}
        Phase::Moving => {
            let seq = st.rec.seq;
            if let Some(head) = local.peek(0, &mut buf)?
                && head.tag == st.rec.mtype
                && head.body.len() as u64 == st.rec.len
                && hash(head.tag, &head.body) == st.rec.hash
            {
                local.remove_next(&mut buf)?;
            }
            st.idle(seq + 1)?;
        }
        Phase::Spooled => {
            let batch = state::read_spool(&opts.state, st.rec.len as usize)?;
            publish_all(&js, local, opts, &name, st.rec.seq, &batch, local_max, stop, stats).await?;
            let next = st.rec.seq + batch.len() as u64;
            st.idle(next)?;
            stats.moved.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }

    let mut idle = Idle(0);
    while !stop.load(Ordering::Relaxed) {
        // Gather a batch.
        let mut batch = Vec::new();
        if local.peekable() {
            while batch.len() < opts.batch {
                match local.peek(batch.len(), &mut buf)? {
                    Some(m) => batch.push(m),
                    None => break,
                }
            }
        } else {
            while batch.len() < opts.batch {
                match local.take(&mut buf) {
                    Ok(Some(m)) => batch.push(m),
                    Ok(None) => break,
                    // What was taken is published first; the error comes next round.
                    Err(_) if !batch.is_empty() => break,
                    Err(e) => return Err(e),
                }
            }
        }
        if batch.is_empty() && local.finished() {
            return Err(Error::new("bridge", local.object(), ErrorKind::Disconnected).with_detail(
                "the sending program closed its end of the channel and every message it sent was \
                 published: nothing more can come (a channel's ends are taken once)",
            ));
        }
        if batch.is_empty() {
            idle.wait();
            if idle.0 % 256 == 0 {
                tokio::task::yield_now().await;
            }
            continue;
        }
        idle.reset();
        for m in &batch {
            if m.body.len() + 512 > max_payload {
                return Err(Error::new("publish", local.object(), ErrorKind::LimitExceeded).with_detail(format!(
                    "a message of {} bytes cannot travel: the server's max_payload is {max_payload} bytes \
                     (less room for headers), the local object takes up to {local_limit}",
                    m.body.len()
                )));
            }
        }
        let seq = st.rec.seq;
        if !local.peekable() {
            state::write_spool(&opts.state, &batch)?;
            st.spooled(seq, batch.len())?;
        }
        stats.in_flight.store(batch.len() as u64, Ordering::Relaxed);
        // Publish until every message is acknowledged (the server drops repeats).
        publish_all(&js, local, opts, &name, seq, &batch, local_max, stop, stats).await?;
        if local.peekable() {
            remove_published(local, &js, opts, &name, &mut st, &batch, &mut buf, local_max, stop, stats)
                .await?;
        } else {
            st.idle(seq + batch.len() as u64)?;
            stats.moved.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        stats.in_flight.store(0, Ordering::Relaxed);
    }
    let _ = client.flush().await;
    Ok(())
}

/// Publishes `batch` with ids `name-(seq+i)` and waits for every acknowledgement,
/// retrying (with the same ids) until they all come. A message the server refuses is
/// an error.
#[allow(clippy::too_many_arguments)]
async fn publish_all(
    js: &jetstream::Context,
    local: &Local,
    opts: &Options,
    name: &str,
    seq: u64,
    batch: &[LocalMessage],
    local_max: usize,
    stop: &AtomicBool,
    stats: &Stats,
) -> Result<()> {
    let mut from = 0usize;
    let mut pause = Duration::from_millis(50);
    let mut refused_at_start = 0;
    while from < batch.len() {
        let round_start = from;
        let mut acks = Vec::with_capacity(batch.len() - from);
        let mut failed = None;
        for (i, m) in batch.iter().enumerate().skip(from) {
            let id = format!("{name}-{}", seq + i as u64);
            let mut h = headers(local, &id, m, local_max);
            if seq + i as u64 > 0 {
                // The server refuses a message whose predecessor is not the stream's
                // last: a message lost with a dropped connection cannot be overtaken
                // by later ones the client replays after reconnecting.
                h.insert("Nats-Expected-Last-Msg-Id", format!("{name}-{}", seq + i as u64 - 1).as_str());
            }
            match js.publish_with_headers(opts.subject.clone(), h, m.body.clone().into()).await {
                Ok(f) => acks.push(f),
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        for f in acks {
            match f.await {
                Ok(_) => from += 1,
                Err(e) => {
                    use async_nats::jetstream::context::PublishErrorKind as K;
                    if matches!(e.kind(), K::Other | K::WrongLastSequence) {
                        return Err(nats_err(
                            "publish",
                            opts,
                            ErrorKind::Other,
                            format!("the server refused message {name}-{}: {e}", seq + from as u64),
                        ));
                    }
                    if e.kind() == K::WrongLastMessageId && from == round_start {
                        // Not a replay overtaking a lost message: the stream does not
                        // end with this message's predecessor.
                        refused_at_start += 1;
                        if refused_at_start >= 3 {
                            return Err(nats_err(
                                "publish",
                                opts,
                                ErrorKind::Other,
                                format!(
                                    "stream {} does not end with message {name}-{}, the one before {name}-{}: \
                                     was it purged or re-created, or does another exporter publish to it? \
                                     (one exporter per stream; a new state file starts a new sequence)",
                                    opts.stream,
                                    (seq + from as u64).saturating_sub(1),
                                    seq + from as u64
                                ),
                            ));
                        }
                    }
                    failed.get_or_insert(e.to_string());
                    break;
                }
            }
        }
        if let Some(e) = failed {
            stats.set_error(format!("publish: {e}; retrying"));
            if stop.load(Ordering::Relaxed) && !stats.connected.load(Ordering::Relaxed) {
                // Stopping with the server gone: the messages are still in the local
                // object (or in the spool), to be published by the next run.
                return Err(nats_err(
                    "publish",
                    opts,
                    ErrorKind::Disconnected,
                    format!("stopped while the server was unreachable: {e}"),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
    Ok(())
}

/// Removes the acknowledged `batch` from the front of a System V queue, recording
/// each removal around the `msgrcv` (see the module docs).
#[allow(clippy::too_many_arguments)]
async fn remove_published(
    local: &Local,
    js: &jetstream::Context,
    opts: &Options,
    name: &str,
    st: &mut StateFile,
    batch: &[LocalMessage],
    buf: &mut Vec<u8>,
    local_max: usize,
    stop: &AtomicBool,
    stats: &Stats,
) -> Result<()> {
    let base = st.rec.seq;
    let next_free = base + batch.len() as u64;
    let mut i = 0;
    while i < batch.len() {
        let m = &batch[i];
        let seq = base + i as u64;
        st.moving(seq, m.tag, m.body.len(), hash(m.tag, &m.body))?;
        let got = local.remove_next(buf)?;
        st.idle(seq + 1)?;
        match got {
            Some(g) if g == *m => {
                stats.moved.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Some(g) => {
                stats.set_error("another process is reading the queue; the bridge must be its only reader");
                if let Some(j) = batch[i + 1..].iter().position(|b| *b == g) {
                    // The other reader took published messages; this one is published too.
                    i += j + 2;
                    st.idle(base + i as u64)?;
                    stats.moved.fetch_add(1, Ordering::Relaxed);
                } else {
                    // An unpublished message came out: publish it now under a fresh id.
                    // The rest of the batch, if still queued, is published again under
                    // fresh ids (a reader that races the bridge costs duplicates, never
                    // a loss).
                    let single = [g];
                    publish_all(js, local, opts, name, next_free, &single, local_max, stop, stats).await?;
                    st.idle(next_free + 1)?;
                    stats.moved.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
            None => {
                stats.set_error("another process emptied the queue; the bridge must be its only reader");
                st.idle(next_free)?;
                return Ok(());
            }
        }
    }
    Ok(())
}
