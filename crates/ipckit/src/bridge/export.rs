//! The exporter's loop: move messages from the local object to the JetStream subject,
//! in batches, through the state file's phases, so that a crash at any point neither
//! loses nor duplicates a message (the protocol is in the module contract, `mod.rs`).

use std::collections::VecDeque;
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
    flush_briefly, nats_err,
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
        Phase::Ahead => {
            return Err(Error::new(
                "open state file",
                crate::error::Object::Path(opts.state.clone()),
                ErrorKind::InvalidInput,
            )
            .with_detail("it is an importer's (each bridge needs a state file of its own)"));
        }
        Phase::Spooled => {
            let batch = state::read_spool(&opts.state, st.rec.len as usize)?;
            publish_all(&js, local, opts, &name, st.rec.seq, &batch, local_max, stop, stats).await?;
            let next = st.rec.seq + batch.len() as u64;
            st.idle(next)?;
            stats.moved.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }

    if local.peekable() {
        Pipeline { local, opts, js: &js, name: &name, local_max, stop, stats, max_payload, local_limit }
            .run(&mut st, &mut buf)
            .await?;
        flush_briefly(&client).await;
        return Ok(());
    }

    // An object that cannot be read without removing (a POSIX queue): one spooled
    // batch at a time.
    let mut idle = Idle::new();
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        while batch.len() < opts.batch {
            match local.take(&mut buf) {
                Ok(Some(m)) => batch.push(m),
                Ok(None) => break,
                // What was taken is published first; the error comes next round.
                Err(_) if !batch.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        if batch.is_empty() {
            idle.wait();
            if idle.rounds() % 16 == 0 {
                tokio::task::yield_now().await;
            }
            continue;
        }
        idle.reset();
        for m in &batch {
            check_size(local, m, max_payload, &local_limit)?;
        }
        let seq = st.rec.seq;
        state::write_spool(&opts.state, &batch)?;
        st.spooled(seq, batch.len())?;
        stats.in_flight.store(batch.len() as u64, Ordering::Relaxed);
        // Publish until every message is acknowledged (the server drops repeats).
        publish_all(&js, local, opts, &name, seq, &batch, local_max, stop, stats).await?;
        st.idle(seq + batch.len() as u64)?;
        stats.moved.fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.in_flight.store(0, Ordering::Relaxed);
    }
    flush_briefly(&client).await;
    Ok(())
}

/// A message larger than the server takes is an error naming both limits.
fn check_size(local: &Local, m: &LocalMessage, max_payload: usize, local_limit: &str) -> Result<()> {
    if m.body.len() + 512 > max_payload {
        return Err(Error::new("publish", local.object(), ErrorKind::LimitExceeded).with_detail(format!(
            "a message of {} bytes cannot travel: the server's max_payload is {max_payload} bytes \
             (less room for headers), the local object takes up to {local_limit}",
            m.body.len()
        )));
    }
    Ok(())
}

/// The server's acknowledgement of one publish, still to come.
type Ack = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = std::result::Result<
                    jetstream::publish::PublishAck,
                    jetstream::context::PublishError,
                >,
            > + Send,
    >,
>;

/// A message of the window: at index `i` of the local object, with id `name-(seq+i)`
/// (`seq` from the state record); its acknowledgement once published.
struct Flight {
    msg: LocalMessage,
    ack: Option<Ack>,
}

/// The exporter of an object that can be read without removing (System V queue,
/// FIFO, channel): a window of up to `opts.batch` messages published and waiting
/// for their acknowledgements, the oldest removed from the local object as soon as
/// its acknowledgement comes, while the newer ones are on their way (see the module
/// docs for why a kill anywhere loses and duplicates nothing).
struct Pipeline<'a> {
    local: &'a Local,
    opts: &'a Options,
    js: &'a jetstream::Context,
    name: &'a str,
    local_max: usize,
    stop: &'a AtomicBool,
    stats: &'a Stats,
    max_payload: usize,
    local_limit: String,
}

impl Pipeline<'_> {
    async fn run(&self, st: &mut StateFile, buf: &mut Vec<u8>) -> Result<()> {
        let mut win: VecDeque<Flight> = VecDeque::with_capacity(self.opts.batch);
        let mut idle = Idle::new();
        let mut pause = Duration::from_millis(50);
        let mut refused_at_front = 0;
        // How many messages the object is known to hold (the window's among them):
        // a peek past them asks the object first (see `Local::count`). Only this
        // exporter removes messages, so the count only grows behind its back.
        let mut known = 0usize;
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            // Look for more: the message after the window is at index `win.len()`.
            if !stopping {
                while win.len() < self.opts.batch {
                    if known <= win.len() {
                        known = self.local.count()?.unwrap_or(usize::MAX);
                        if known <= win.len() {
                            break;
                        }
                    }
                    match self.local.peek(win.len(), buf)? {
                        Some(m) => {
                            check_size(self.local, &m, self.max_payload, &self.local_limit)?;
                            win.push_back(Flight { msg: m, ack: None });
                        }
                        None => {
                            known = win.len();
                            break;
                        }
                    }
                }
            }
            if win.is_empty() {
                self.stats.in_flight.store(0, Ordering::Relaxed);
                if stopping {
                    return Ok(());
                }
                if self.local.finished() {
                    return Err(Error::new("bridge", self.local.object(), ErrorKind::Disconnected)
                        .with_detail(
                            "the sending program closed its end of the channel and every message it sent was \
                         published: nothing more can come (a channel's ends are taken once)",
                        ));
                }
                idle.wait();
                if idle.rounds() % 16 == 0 {
                    tokio::task::yield_now().await;
                }
                continue;
            }
            idle.reset();
            self.stats.in_flight.store(win.len() as u64, Ordering::Relaxed);

            // Publish what is not on its way (new, or after a failure), in order.
            let seq = st.rec.seq;
            let mut failed = None;
            for (i, f) in win.iter_mut().enumerate() {
                if f.ack.is_some() {
                    continue;
                }
                match self.publish(seq + i as u64, &f.msg).await {
                    Ok(ack) => f.ack = Some(ack),
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                }
            }

            // Wait for the oldest acknowledgement (if the publishing went through),
            // then remove every message at the front whose acknowledgement came.
            if failed.is_none() {
                let front = win.front_mut().and_then(|f| f.ack.take());
                let outcome = match front {
                    Some(ack) => ack.await,
                    None => continue,
                };
                match outcome {
                    Ok(_) => {
                        refused_at_front = 0;
                        pause = Duration::from_millis(50);
                        if !self.remove_front(st, &mut win, buf).await? {
                            known = 0;
                            continue;
                        }
                        known = known.saturating_sub(1);
                        // The ones behind it whose acknowledgements are in already.
                        while let Some(ack) = win.front_mut().and_then(|f| f.ack.as_mut()) {
                            match futures_util::FutureExt::now_or_never(ack) {
                                None => break,
                                Some(Ok(_)) => {
                                    if let Some(f) = win.front_mut() {
                                        f.ack = None;
                                    }
                                    if !self.remove_front(st, &mut win, buf).await? {
                                        known = 0;
                                        break;
                                    }
                                    known = known.saturating_sub(1);
                                }
                                Some(Err(e)) => {
                                    self.refused(&e, st.rec.seq, false)?;
                                    failed = Some(e.to_string());
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        // Not a replay overtaking a lost message: the stream does not
                        // end with this message's predecessor, three times over.
                        if e.kind() == jetstream::context::PublishErrorKind::WrongLastMessageId {
                            refused_at_front += 1;
                        }
                        self.refused(&e, st.rec.seq, refused_at_front >= 3)?;
                        failed = Some(e.to_string());
                    }
                }
            }
            if let Some(e) = failed {
                // Everything in the window is published again, with the same ids:
                // the server drops what it already has.
                for f in win.iter_mut() {
                    f.ack = None;
                }
                self.stats.set_error(format!("publish: {e}; retrying"));
                if self.stop.load(Ordering::Relaxed) && !self.stats.connected.load(Ordering::Relaxed) {
                    // Stopping with the server gone: the messages are still in the
                    // local object, to be published by the next run.
                    return Err(nats_err(
                        "publish",
                        self.opts,
                        ErrorKind::Disconnected,
                        format!("stopped while the server was unreachable: {e}"),
                    ));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }

    /// Publishes `msg` with id `name-seq` (and its predecessor's id as the expected
    /// last one); the acknowledgement comes later.
    async fn publish(
        &self,
        seq: u64,
        msg: &LocalMessage,
    ) -> std::result::Result<Ack, jetstream::context::PublishError> {
        let id = format!("{}-{seq}", self.name);
        let mut h = headers(self.local, &id, msg, self.local_max);
        if seq > 0 {
            // The server refuses a message whose predecessor is not the stream's
            // last: a message lost with a dropped connection cannot be overtaken by
            // later ones the client replays after reconnecting.
            h.insert("Nats-Expected-Last-Msg-Id", format!("{}-{}", self.name, seq - 1).as_str());
        }
        let f = self.js.publish_with_headers(self.opts.subject.clone(), h, msg.body.clone().into()).await?;
        Ok(std::future::IntoFuture::into_future(f))
    }

    /// An acknowledgement that did not come: an error if the server refused the
    /// message for good (`for_good` adds "the stream does not end with its
    /// predecessor"), otherwise `Ok` (the caller publishes the window again).
    fn refused(&self, e: &jetstream::context::PublishError, seq: u64, for_good: bool) -> Result<()> {
        use async_nats::jetstream::context::PublishErrorKind as K;
        let name = self.name;
        if matches!(e.kind(), K::Other | K::WrongLastSequence) {
            return Err(nats_err(
                "publish",
                self.opts,
                ErrorKind::Other,
                format!("the server refused message {name}-{seq}: {e}"),
            ));
        }
        if for_good {
            return Err(nats_err(
                "publish",
                self.opts,
                ErrorKind::Other,
                format!(
                    "stream {} does not end with message {name}-{}, the one before {name}-{seq}: \
                     was it purged or re-created, or does another exporter publish to it? \
                     (one exporter per stream; a new state file starts a new sequence)",
                    self.opts.stream,
                    seq.saturating_sub(1),
                ),
            ));
        }
        Ok(())
    }

    /// Removes the window's front message, acknowledged, from the local object,
    /// recording the removal around it (see the module docs). `false` when another
    /// reader of the object was found: the window was settled and emptied.
    async fn remove_front(
        &self,
        st: &mut StateFile,
        win: &mut VecDeque<Flight>,
        buf: &mut Vec<u8>,
    ) -> Result<bool> {
        let Some(front) = win.front() else { return Ok(true) };
        let m = &front.msg;
        let seq = st.rec.seq;
        st.moving(seq, m.tag, m.body.len(), hash(m.tag, &m.body))?;
        let got = self.local.remove_next(buf)?;
        st.idle(seq + 1)?;
        if got.as_ref() == Some(m) {
            win.pop_front();
            self.stats.moved.fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        }
        // Another process reads the object. Make sure the whole window is stored
        // (republished with the same ids, the server drops the repeats), then sort
        // it out as for one batch.
        let batch: Vec<LocalMessage> = win.drain(..).map(|f| f.msg).collect();
        publish_all(
            self.js,
            self.local,
            self.opts,
            self.name,
            seq,
            &batch,
            self.local_max,
            self.stop,
            self.stats,
        )
        .await?;
        let next_free = seq + batch.len() as u64;
        match got {
            Some(g) => {
                self.stats
                    .set_error("another process is reading the queue; the bridge must be its only reader");
                if let Some(j) = batch[1..].iter().position(|b| *b == g) {
                    // The other reader took published messages; this one is
                    // published too. The rest of the window is looked at again.
                    st.idle(seq + j as u64 + 2)?;
                    self.stats.moved.fetch_add(1, Ordering::Relaxed);
                } else {
                    // An unpublished message came out: publish it now under a fresh
                    // id. What is still queued of the window is published again
                    // under fresh ids (a reader that races the bridge costs
                    // duplicates, never a loss).
                    let single = [g];
                    publish_all(
                        self.js,
                        self.local,
                        self.opts,
                        self.name,
                        next_free,
                        &single,
                        self.local_max,
                        self.stop,
                        self.stats,
                    )
                    .await?;
                    st.idle(next_free + 1)?;
                    self.stats.moved.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.stats.set_error("another process emptied the queue; the bridge must be its only reader");
                st.idle(next_free)?;
            }
        }
        Ok(false)
    }
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
