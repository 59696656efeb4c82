//! The exporter's loop: move messages from the local object to the JetStream subject,
//! in batches, through the state file's phases, so that a crash at any point neither
//! loses nor duplicates a message (the protocol is in the module contract, `mod.rs`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;

use super::landing::Landing;
use super::local::{Local, LocalMessage};
use super::spool::{self, Spool};
use super::state::{Phase, StateFile, hash};

use crate::error::{Error, ErrorKind, Result};

use super::{
    HEADER_KIND, HEADER_MAX, HEADER_MTYPE, HEADER_PRIORITY, Options, Pace, Quiet, Stats, connect,
    ensure_stream, flush_briefly, nats_err, spin_then_await,
};

/// The headers of message `seq` of the exporter called `name`: its id
/// (`name-seq`); its predecessor's id as the one the stream must end with (the server
/// refuses a message whose predecessor is not the stream's last, so a message lost
/// with a dropped connection cannot be overtaken by later ones the client replays
/// after reconnecting); its type or priority; the local object's limit and kind.
fn headers(local: &Local, name: &str, seq: u64, msg: &LocalMessage, max: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", format!("{name}-{seq}").as_str());
    if seq > 0 {
        h.insert("Nats-Expected-Last-Msg-Id", format!("{name}-{}", seq - 1).as_str());
    }
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

    let mut landing = landing_for(local, &opts.state, local_max)?;

    // Finish what a killed exporter left half done.
    match st.rec.phase {
        Phase::Idle => {}
        Phase::Moving => finish_removal(local, &mut st, &mut landing, &mut buf)?,
        Phase::Ahead => {
            return Err(Error::new(
                "open state file",
                crate::error::Object::Path(opts.state.clone()),
                ErrorKind::InvalidInput,
            )
            .with_detail("it is an importer's (each bridge needs a state file of its own)"));
        }
        // An older exporter's spool (this one's keeps its own header: below).
        Phase::Spooled => {
            let batch = spool::read_old(&opts.state, st.rec.len as usize)?;
            publish_all(&js, local, opts, &name, st.rec.seq, &batch, local_max, stop, stats).await?;
            let next = st.rec.seq + batch.len() as u64;
            st.idle(next)?;
            stats.moved.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }

    if local.peekable() {
        let landing = std::cell::RefCell::new(landing);
        Pipeline {
            local,
            opts,
            js: &js,
            name: &name,
            local_max,
            stop,
            stats,
            max_payload,
            local_limit,
            landing,
        }
        .run(&mut st, &mut buf)
        .await?;
        flush_briefly(&client).await;
        return Ok(());
    }

    // An object that cannot be read without removing (a POSIX queue): each message
    // goes to the spool as it is taken, a batch at a time (see spool.rs).
    let mut spool = Spool::open(&opts.state)?;
    if let Some(left) = spool.recover()? {
        let todo = left.todo();
        publish_all(&js, local, opts, &name, left.base + left.done, todo, local_max, stop, stats).await?;
        stats.moved.fetch_add(todo.len() as u64, Ordering::Relaxed);
        st.idle(left.next())?;
    }
    let mut seq = st.rec.seq;
    if let Some(l) = landing.as_ref() {
        report_caught(l, seq, local, opts, stats)?;
    }
    spool.begin(seq)?;
    let mut quiet = Quiet::new(local)?;
    let mut pace = Pace::new(opts.spin);
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        while batch.len() < opts.batch {
            match local.take(landing.as_mut(), seq + batch.len() as u64, &mut buf) {
                Ok(Some(m)) => {
                    spool.append(&m)?;
                    if let Some(l) = landing.as_ref() {
                        l.release(m.body.len());
                    }
                    batch.push(m);
                }
                Ok(None) => break,
                // What was taken is published first; the error comes next round.
                Err(_) if !batch.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        if batch.is_empty() {
            quiet.wait(pace.spin()).await;
            continue;
        }
        quiet.reset();
        pace.mark();
        // A message the server cannot take stops the exporter here, and stays in
        // the spool for the next run, which says the same.
        for m in &batch {
            check_size(local, m, max_payload, &local_limit)?;
        }
        stats.in_flight.store(batch.len() as u64, Ordering::Relaxed);
        // Publish until every message is acknowledged (the server drops repeats).
        publish_all(&js, local, opts, &name, seq, &batch, local_max, stop, stats).await?;
        spool.published(batch.len() as u64)?;
        seq += batch.len() as u64;
        st.idle(seq)?;
        spool.begin(seq)?;
        stats.moved.fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.in_flight.store(0, Ordering::Relaxed);
    }
    flush_briefly(&client).await;
    Ok(())
}

/// Says loudly what a killed exporter left in the landing between receiving a POSIX
/// queue's message and writing it to the spool (see `landing.rs`): a message with an
/// id number from `next` on is in no record, and its length is lost with the call's
/// result, so it cannot be published. Its bytes go to `<state>.lost-<id>` (mode
/// 0600), and [`Stats::lost`] and the notice say where. A caught message with an
/// earlier id is in the spool: nothing to say. Either way the landing is cleared.
fn report_caught(landing: &Landing, next: u64, local: &Local, opts: &Options, stats: &Stats) -> Result<()> {
    let Some(c) = landing.caught() else { return Ok(()) };
    if c.id >= next {
        let path = super::state::beside(&opts.state, &format!(".lost-{}", c.id));
        let mut file = super::state::open_private(&path, "open lost-message file")?;
        std::io::Write::write_all(&mut file, &c.bytes)
            .map_err(|e| super::state::file_err("write", &path, e))?;
        stats.lost.fetch_add(1, Ordering::Relaxed);
        stats.notify(opts, format!(
            "LOST: the previous exporter was killed between taking a message (priority {}) from {} and writing it \
             to its spool; the kernel gives a message's length only as the call's result, so it cannot be \
             published: its bytes are in {} ({} bytes up to the last non-zero one; if the message ended in \
             zero bytes, it was longer, at most {} bytes)",
            c.priority,
            local.object(),
            path.display(),
            c.bytes.len(),
            local.max_body().0,
        ));
    }
    landing.release_all();
    Ok(())
}

/// The landing of `local` beside the state file `state`, for bodies of up to `max`
/// bytes: a System V queue's messages and a FIFO's frames are removed into it, and a
/// POSIX queue's messages received into it (see `landing.rs`); a channel has none.
fn landing_for(local: &Local, state: &std::path::Path, max: usize) -> Result<Option<Landing>> {
    match local {
        Local::PosixQueue(q) => Landing::open_catch(state, q.msgsize()).map(Some),
        // (A FIFO's frame is its body and at most 4 bytes of framing.)
        Local::SysvQueue(_) | Local::Fifo(_) => Landing::open(state, max + 4).map(Some),
        _ => Ok(None),
    }
}

/// Records "removing `seq`" for `m`, the object's first message, after preparing
/// what tells a restart whether the removal then happened: the landing cleared (a
/// FIFO's first byte flipped away from the frame's), or a channel's ring position as
/// the record's mark (the position plus one: freed iff the end has moved past it).
fn record_removal(
    local: &Local,
    landing: Option<&Landing>,
    st: &mut StateFile,
    seq: u64,
    m: &LocalMessage,
) -> Result<()> {
    match (landing, local) {
        (Some(l), Local::Fifo(f)) => l.clear_unlike(f.frame_start(m)),
        (Some(l), _) => l.clear(),
        (None, _) => {}
    }
    let mark = match local {
        Local::Channel(c) => c.rx_position()? + 1,
        _ => 0,
    };
    st.moving_at(seq, m.tag, m.body.len(), hash(m.tag, &m.body), mark)
}

/// Finishes the removal a killed exporter recorded ("removing `seq`"): removes the
/// message if that had not happened, then records "next is `seq+1`". Exactly: for
/// a System V queue by its landing (a landed type: it happened; the landing was
/// cleared before the record), for a FIFO by its landing too (it holds the recorded
/// frame: it happened; its first byte was flipped away from the frame's before the
/// record), for a channel by the taken-over end's position (past the recorded one:
/// it happened). For a record of an older version, only the comparison of the first
/// message with the record is left, which a byte-identical successor fools.
fn finish_removal(
    local: &Local,
    st: &mut StateFile,
    landing: &mut Option<Landing>,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let seq = st.rec.seq;
    // Not landed (or no landing to ask): the first message must be the recorded one
    // for it to be removed now; if it is not, another reader took it (a misuse the
    // exporter reports when it sees it).
    let landed = match local {
        // The receiving end, taken over, is past the recorded position iff it was freed.
        Local::Channel(c) if st.rec.mark != 0 => c.rx_position()? >= st.rec.mark,
        // The landing holds the recorded frame iff it was read (its first byte was
        // flipped away from the frame's before the record).
        Local::Fifo(f) => landing.as_ref().is_some_and(|l| {
            !l.fresh()
                && f.landed_body(l, st.rec.len as usize)
                    .is_some_and(|b| hash(st.rec.mtype, &b) == st.rec.hash)
        }),
        _ => landing.as_ref().is_some_and(|l| !l.fresh() && l.landed()),
    };
    let removed = landed
        || !local.peek(0, buf)?.is_some_and(|head| {
            head.tag == st.rec.mtype
                && head.body.len() as u64 == st.rec.len
                && hash(head.tag, &head.body) == st.rec.hash
        });
    if !removed {
        local.remove_next(landing.as_mut(), st.rec.len as usize, buf)?;
    }
    st.idle(seq + 1)
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
    /// A System V queue's or a FIFO's landing (see [`landing_for`]).
    landing: std::cell::RefCell<Option<Landing>>,
}

impl Pipeline<'_> {
    async fn run(&self, st: &mut StateFile, buf: &mut Vec<u8>) -> Result<()> {
        let mut win: VecDeque<Flight> = VecDeque::with_capacity(self.opts.batch);
        let mut quiet = Quiet::new(self.local)?;
        let mut pace = Pace::new(self.opts.spin);
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
                            pace.mark();
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
                quiet.wait(pace.spin()).await;
                continue;
            }
            quiet.reset();
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
                    Some(mut ack) => spin_then_await(&mut ack, pace.spin()).await,
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
        let h = headers(self.local, self.name, seq, msg, self.local_max);
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
        let got = {
            let mut landing = self.landing.borrow_mut();
            record_removal(self.local, landing.as_ref(), st, seq, m)?;
            self.local.remove_next(landing.as_mut(), m.body.len(), buf)?
        };
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
            let h = headers(local, name, seq + i as u64, m, local_max);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::state::Record;
    use crate::sysv::msg::MsgQueue;
    use crate::{Key, Mode};

    /// A state file path of this test's own; it and the files beside it (landing,
    /// lost messages) are removed on drop.
    struct Temp(std::path::PathBuf);
    impl Drop for Temp {
        fn drop(&mut self) {
            let (Some(dir), Some(name)) = (self.0.parent(), self.0.file_name()) else { return };
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.file_name().as_encoded_bytes().starts_with(name.as_encoded_bytes()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    fn temp(tag: &str) -> Temp {
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Temp(std::env::temp_dir().join(format!("ipckit-landing-{tag}-{}-{n:x}", std::process::id())))
    }

    /// Once its spin is over, an exporter of a POSIX queue or a FIFO sleeps on the
    /// object's descriptor (not in naps), and the descriptor wakes it when a message
    /// comes from another thread; a System V queue has none. (The minute is only a
    /// bound on a wake that never comes: the test fails then, it does not time it.)
    #[test]
    fn quiet_wakes_on_the_descriptor_of_a_posix_queue_and_a_fifo() {
        use crate::bridge::{FifoEnd, Framing, Quiet};
        use crate::fifo::Fifo;
        use std::io::Write;
        const PATIENCE: Duration = Duration::from_secs(60);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            assert!(Quiet::new(&queue(&[])).unwrap().arrivals.is_none());

            let (q, sender) = crate::bridge::tests::posix_queue("quiet");
            let local = Local::PosixQueue(q);
            let quiet = Quiet::new(&local).unwrap();
            let fd = quiet.arrivals.as_ref().expect("a POSIX queue's descriptor in the reactor");
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                sender.send(b"woken", 3).unwrap();
            });
            tokio::time::timeout(PATIENCE, fd.readable()).await.expect("no wake").unwrap().clear_ready();
            t.join().unwrap();
            let m = local.take(None, 0, &mut Vec::new()).unwrap().expect("the message that woke it");
            assert_eq!((m.body.as_slice(), m.tag), (&b"woken"[..], 3));

            let t = temp("quiet-fifo");
            let path = std::path::PathBuf::from(format!("{}.fifo", t.0.display()));
            let mut fifo = Fifo::create(&path, Mode::OWNER_RW).unwrap();
            fifo.set_remove_on_drop(true).unwrap();
            let local = Local::Fifo(FifoEnd::reader(Fifo::at(&path).unwrap(), Framing::Line).unwrap());
            let quiet = Quiet::new(&local).unwrap();
            let fd = quiet.arrivals.as_ref().expect("a FIFO's descriptor in the reactor");
            let mut w = fifo.open_write().unwrap();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                w.write_all(b"woken\n").unwrap();
                w
            });
            tokio::time::timeout(PATIENCE, fd.readable()).await.expect("no wake").unwrap().clear_ready();
            let _w = t.join().unwrap();
            let m = local.peek(0, &mut Vec::new()).unwrap().expect("the line that woke it");
            assert_eq!(m.body, b"woken");
        });
    }

    /// What a killed POSIX exporter caught and did not spool is saved to a file of
    /// its own, counted lost and told; one it did spool (an id below the next) is
    /// not. Either way the landing is cleared.
    #[test]
    fn a_posix_message_caught_and_not_spooled_is_saved_and_told_not_dropped() {
        use crate::bridge::Stats;
        let t = temp("caught");
        let (q, sender) = crate::bridge::tests::posix_queue("caught");
        let local = Local::PosixQueue(q);
        let Local::PosixQueue(q) = &local else { unreachable!() };
        let opts = Options::new("nats://127.0.0.1:1", "t.caught", t.0.clone());
        let stats = Stats::default();
        let lost_file = |id: u64| crate::bridge::state::beside(&t.0, &format!(".lost-{id}"));

        let mut l = Landing::open_catch(&t.0, 64).unwrap();
        sender.send(b"spooled before the kill", 2).unwrap();
        l.catch(q, 5).unwrap().unwrap();
        report_caught(&l, 6, &local, &opts, &stats).unwrap();
        assert_eq!(stats.lost.load(Ordering::Relaxed), 0);
        assert!(!lost_file(5).exists());
        assert_eq!(l.caught(), None);

        sender.send(b"taken, never spooled", 4).unwrap();
        l.catch(q, 6).unwrap().unwrap();
        report_caught(&l, 6, &local, &opts, &stats).unwrap();
        assert_eq!(stats.lost.load(Ordering::Relaxed), 1);
        let saved = std::fs::read(lost_file(6)).unwrap();
        std::fs::remove_file(lost_file(6)).unwrap();
        assert_eq!(saved, b"taken, never spooled");
        let told = stats.last_notice().unwrap();
        assert!(told.contains(&lost_file(6).display().to_string()) && told.contains("priority 4"), "{told}");
        assert_eq!(l.caught(), None);
    }

    /// A private queue holding `msgs`, removed on drop, as a bridge's local object.
    fn queue(msgs: &[(&[u8], i64)]) -> Local {
        let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
        q.set_remove_on_drop(true).unwrap();
        for (body, t) in msgs {
            q.send(body, *t).unwrap();
        }
        Local::SysvQueue(q)
    }

    fn count(local: &Local) -> usize {
        local.count().unwrap().unwrap()
    }

    /// What the exporter does to remove message `seq` (the front), with its own
    /// `record_removal` and `Local::remove_next`, stopped by a kill right after the
    /// removal (`removed`) or right before it.
    fn killed_around_removal(local: &Local, state: &std::path::Path, seq: u64, removed: bool) {
        let mut st = StateFile::open(state).unwrap();
        st.idle(seq).unwrap();
        let mut landing = landing_for(local, state, 64).unwrap();
        let mut buf = vec![0u8; 64];
        let front = local.peek(0, &mut buf).unwrap().unwrap();
        record_removal(local, landing.as_ref(), &mut st, seq, &front).unwrap();
        if removed {
            let got = local.remove_next(landing.as_mut(), front.body.len(), &mut buf).unwrap();
            assert_eq!(got, Some(front));
        }
        // The kill: the landing and the record stay as they are.
    }

    /// Message 5 removed (killed just after, then recovered): the landing holds what
    /// landed then, which the record of message 6 must not be mistaken for.
    fn one_removed_before(local: &Local, state: &std::path::Path) {
        killed_around_removal(local, state, 5, true);
        let rec = restart(local, state);
        assert_eq!((rec.phase, rec.seq), (Phase::Idle, 6));
    }

    /// The restarted exporter's first step, on `local` taken over.
    fn restart(local: &Local, state: &std::path::Path) -> Record {
        let mut st = StateFile::open(state).unwrap();
        assert_eq!(st.rec.phase, Phase::Moving);
        let mut landing = landing_for(local, state, 64).unwrap();
        finish_removal(local, &mut st, &mut landing, &mut vec![0u8; 64]).unwrap();
        st.rec
    }

    /// The restart after a kill around removing message 6 of three identical ticks:
    /// it goes on at 7, and exactly one tick is left in `local`.
    fn restart_leaves_one_tick(local: &Local, state: &std::path::Path) {
        let rec = restart(local, state);
        assert_eq!((rec.phase, rec.seq), (Phase::Idle, 7));
        let mut buf = vec![0u8; 64];
        assert_eq!(local.peek(0, &mut buf).unwrap().map(|m| m.body), Some(b"tick".to_vec()));
        assert_eq!(local.peek(1, &mut buf).unwrap(), None, "exactly one tick is left");
    }

    /// Three identical messages, the first removed; an exporter killed right after
    /// (`removed`) or right before removing the second: the restart must leave
    /// exactly the third, as message 7. (The record's type, length and hash alone take the second for the
    /// first when the removal happened.)
    fn sysv_killed_around_removal(removed: bool) {
        let t = temp(if removed { "done" } else { "undone" });
        let local = queue(&[(b"tick", 3), (b"tick", 3), (b"tick", 3)]);
        one_removed_before(&local, &t.0);
        killed_around_removal(&local, &t.0, 6, removed);
        assert_eq!(count(&local), if removed { 1 } else { 2 });
        restart_leaves_one_tick(&local, &t.0);
        assert_eq!(count(&local), 1);
    }

    #[test]
    fn a_removal_before_the_kill_is_not_repeated_on_a_byte_identical_successor() {
        sysv_killed_around_removal(true);
    }

    #[test]
    fn a_removal_the_kill_came_before_is_made_on_restart() {
        sysv_killed_around_removal(false);
    }

    #[test]
    fn a_message_another_reader_took_is_not_made_up_for_with_the_next() {
        let t = temp("taken");
        let local = queue(&[(b"mine", 1), (b"next", 1)]);
        killed_around_removal(&local, &t.0, 2, false);
        // Another process takes the recorded message while the exporter is down.
        let Local::SysvQueue(q) = &local else { unreachable!() };
        q.recv(&mut [0u8; 16], crate::sysv::msg::Select::Any).unwrap();
        let rec = restart(&local, &t.0);
        assert_eq!((rec.phase, rec.seq), (Phase::Idle, 3));
        let mut buf = vec![0u8; 64];
        assert_eq!(local.peek(0, &mut buf).unwrap().map(|m| m.body), Some(b"next".to_vec()));
    }

    /// A channel exporter killed right after freeing (`removed`) or right before
    /// freeing message 6, of two identical ones; the restarted exporter takes the
    /// receiving end over and must leave exactly one.
    fn channel_killed_around_removal(removed: bool) {
        use crate::bridge::ChannelEnd;
        use crate::channel::{Channel, ChannelConfig};
        use std::io::{Read, Write};
        let t = temp(if removed { "chan-done" } else { "chan-undone" });
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
        let mut tx = chan.sender().unwrap();
        tx.send(b"tick").unwrap();
        tx.send(b"tick").unwrap();
        let (mut ready_r, ready_w) = crate::pipe::pipe().unwrap();
        let state = t.0.clone();
        // SAFETY: the child uses memory allocated before the fork and system calls
        // through ipckit, and is killed without returning to the test harness.
        #[allow(unsafe_code)]
        let child = unsafe {
            crate::process::fork_with(|| {
                let local = Local::Channel(ChannelEnd::receiver(&chan).unwrap());
                killed_around_removal(&local, &state, 6, removed);
                (&ready_w).write_all(b"k").unwrap();
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            })
        }
        .unwrap();
        drop(ready_w);
        ready_r.read_exact(&mut [0u8; 1]).unwrap();
        child.kill(crate::process::Signal::Kill).unwrap();
        let _ = child.wait().unwrap();
        let local = Local::Channel(ChannelEnd::receiver(&chan).unwrap());
        restart_leaves_one_tick(&local, &t.0);
    }

    #[test]
    fn a_channel_message_freed_before_the_kill_is_not_freed_again() {
        channel_killed_around_removal(true);
    }

    #[test]
    fn a_channel_message_the_kill_came_before_is_freed_on_restart() {
        channel_killed_around_removal(false);
    }

    /// A FIFO exporter that read out the first of three identical frames, stopped just
    /// before or just after reading the second; a writer keeps the FIFO (and its
    /// bytes) meanwhile. The restart must leave exactly the third.
    fn fifo_killed_around_removal(removed: bool, framing: crate::bridge::Framing) {
        use crate::bridge::FifoEnd;
        use crate::fifo::Fifo;
        use std::io::Write;
        let t = temp(if removed { "fifo-done" } else { "fifo-undone" });
        let path = std::path::PathBuf::from(format!("{}.fifo", t.0.display()));
        let mut fifo = Fifo::create(&path, Mode::OWNER_RW).unwrap();
        fifo.set_remove_on_drop(true).unwrap();
        let local = Local::Fifo(FifoEnd::reader(Fifo::at(&path).unwrap(), framing).unwrap());
        let mut w = fifo.open_write().unwrap();
        w.write_all(&[framing.frame(b"tick"), framing.frame(b"tick"), framing.frame(b"tick")].concat())
            .unwrap();
        one_removed_before(&local, &t.0);
        killed_around_removal(&local, &t.0, 6, removed);
        // The kill: the exporter's end goes; the writer keeps the pipe's bytes.
        drop(local);
        let local = Local::Fifo(FifoEnd::reader(Fifo::at(&path).unwrap(), framing).unwrap());
        restart_leaves_one_tick(&local, &t.0);
    }

    #[test]
    fn a_frame_read_before_the_kill_is_not_read_again() {
        fifo_killed_around_removal(true, crate::bridge::Framing::Line);
        fifo_killed_around_removal(true, crate::bridge::Framing::Length);
    }

    #[test]
    fn a_frame_the_kill_came_before_is_read_on_restart() {
        fifo_killed_around_removal(false, crate::bridge::Framing::Line);
        fifo_killed_around_removal(false, crate::bridge::Framing::Length);
    }

    #[test]
    fn without_a_landing_from_before_the_first_message_is_compared_with_the_record() {
        // A record written by a version without the landing: no landing file yet.
        let t = temp("older");
        let local = queue(&[(b"first", 1), (b"second", 2)]);
        let mut st = StateFile::open(&t.0).unwrap();
        st.moving_at(4, 1, 5, hash(1, b"first"), 0).unwrap();
        let rec = restart(&local, &t.0);
        assert_eq!((rec.phase, rec.seq), (Phase::Idle, 5));
        let mut buf = vec![0u8; 64];
        assert_eq!(local.peek(0, &mut buf).unwrap().map(|m| m.body), Some(b"second".to_vec()));
        assert_eq!(count(&local), 1);
    }
}
