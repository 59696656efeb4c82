//! Carrying local IPC across hosts over NATS JetStream: an exporter takes messages
//! from a local object and publishes them on a subject; an importer takes them from
//! a durable consumer of that subject and puts them into a local object. Programs on
//! both sides keep their `msgsnd`/`msgrcv` (or `mq_send`/`mq_receive`) calls.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::sync::atomic::AtomicBool;
//! use ipckit::bridge::{self, Local, Options, Stats};
//! use ipckit::sysv::msg::MsgQueue;
//! use ipckit::Key;
//!
//! let queue = MsgQueue::open(Key::from_raw(0x1234))?;
//! let opts = Options::new("nats://127.0.0.1:4222", "app.scores", "/var/lib/app/out.state");
//! let stop = AtomicBool::new(false);
//! bridge::export(&Local::SysvQueue(queue), &opts, &stop, &Arc::new(Stats::default()))?;
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! # What travels
//!
//! The body byte for byte as the NATS payload; the System V type as header
//! `Ipckit-Mtype`, the POSIX priority as `Ipckit-Priority` (restored on import, so
//! type selection works on the far side); `Ipckit-Max` the largest body the source
//! object takes; `Nats-Msg-Id` the message's unique id. A body larger than the
//! server's `max_payload` is refused by the exporter, and one larger than the
//! importer's object takes is refused by the importer, each naming both limits.
//!
//! # Delivery, as built
//!
//! The stream (file storage, `duplicate_window` two minutes by default) is created by
//! whichever side starts first. Each bridge keeps a state file of one 80-byte record (and beside it a
//! System V or FIFO exporter its landing, a POSIX one its spool).
//!
//! **Exporter, System V queue.** It keeps a window of up to [`Options::batch`]
//! messages published and not yet removed: it copies the messages behind the window
//! with `msgrcv(MSG_COPY)` (nothing is removed), publishes each with id
//! `<name>-<n>` (`name` random per state file, `n` the message's place in the
//! queue's history: the state file's `seq` for the queue's first message, `seq+i`
//! for the one `i` places behind it), and without waiting goes on to the next; as
//! soon as the *oldest* acknowledgement comes, it removes that message, the first in
//! the queue: before the `msgrcv` it clears its landing (below) and records
//! "removing `seq` (type, length, hash)", after it "next is `seq+1`"; acknowledgements that came meanwhile are handled the
//! same way, then the window is topped up. So the newer messages are on their way
//! while the older ones are removed, and every removal still waits for its own
//! acknowledgement. Invariant at every instant: the message `i` places from the
//! front of the queue has id `seq+i`, and every message removed was acknowledged
//! first. Killed anywhere:
//! - with messages published and not acknowledged (any number, in any state: not
//!   sent, sent, stored, acknowledged but not yet seen): they are all still in the
//!   queue, in order, at the same places; the restarted exporter publishes them again
//!   with the same ids, and the server drops the ones it already stored (within the
//!   duplicate window); as a message is stored only after its predecessor (below),
//!   what the server holds is a prefix of the window, so the republished ones fill
//!   the rest in order;
//! - between the record and "next is `seq+1`": the landing says whether the removal
//!   happened. The exporter removes into a file mapping beside the state file
//!   (`<state>.landing`), cleared (type 0) before the record; `msgrcv` unlinks the
//!   message and writes its type there in one system call, which a kill cannot cut
//!   in two, and the page outlives the process. A landed type: it was removed; none:
//!   it was not, and is removed now (not republished: it was acknowledged). This is
//!   exact, also when the next message is byte-identical. (A record left by a version
//!   without the landing is decided as before: the first message is compared with
//!   the recorded type, length and hash, which a byte-identical successor fools.)
//!
//! A publish that fails, or an acknowledgement that does not come (a dropped
//! connection, a timeout), makes it publish the whole window again with the same
//! ids, after a pause; that is the same case as a kill with nothing removed.
//!
//! The exporter must be the queue's only reader: a message another process takes between the copy and the
//! removal is detected (the removed message differs from the one published): the
//! exporter first makes sure the whole window is stored (published again, same ids),
//! and a message it removed without publishing is published at once, after them.
//!
//! **Exporter, POSIX queue** (no way to read without removing): `mq_receive` puts
//! each message into the landing (a file beside the state file, mapped shared), and
//! the exporter appends it to a spool file as soon as the call returns, publishes the
//! batch, and after the acknowledgements records them done in the spool's header,
//! which also holds the batch's first id number. A restarted exporter republishes
//! what the spool holds with the same ids. A kill between `mq_receive` returning and
//! that message's append leaves the message's bytes and priority in the landing but
//! not its length, which the kernel gives only as the call's result: the restarted
//! exporter cannot publish it faithfully, so it saves the bytes to
//! `<state>.lost-<id>`, counts it in [`Stats::lost`] and says so (the CLI prints
//! LOST at once and names the file at every start, see [`lost_files`]). Nothing
//! vanishes; that one message needs a person. See `spool.rs` and `landing.rs`.
//!
//! **Exporter, FIFO** ([`FifoEnd`]; frames cut by newline or by a 4-byte
//! little-endian length, see [`Framing`]). A pipe can be read without removing: it
//! copies the pipe's contents with `tee(2)` into a private pipe, cuts the frames,
//! publishes them, and reads each frame out of the FIFO (one `read`) once its
//! acknowledgement came, with the same window, records and landing as for a System V
//! queue: the `read` lands in the landing, whose first byte was flipped away from the
//! frame's before the record, so the landing holds the recorded frame after a kill if
//! and only if it was read out (exact, also before a byte-identical frame). What is in the pipe survives
//! a killed exporter as long as some writer keeps the FIFO open (the kernel discards
//! a pipe's bytes when the last end closes). The exporter holds the FIFO open for
//! reading and writing, so writers come and go without an end-of-file. A frame must
//! fit in the pipe whole: the exporter grows the pipe to `/proc/sys/fs/pipe-max-size`,
//! and a larger frame stops it with an error naming that limit.
//!
//! **Exporter, channel** ([`ChannelEnd`]). It reads the messages where they lie in
//! the ring without receiving them, publishes them, and receives (frees) each once
//! its acknowledgement came, with the same window and records as for a System V
//! queue; instead of a landing, the record carries the message's ring position, and
//! a restarted exporter that took the end over knows the message was freed if and
//! only if the end is past it (exact). It never closes the
//! channel's receiving end, stopped or killed: the next exporter takes it over once
//! the process is gone
//! ([`Channel::take_over_receiver`](crate::channel::Channel::take_over_receiver)) and
//! starts from the first message not freed. While no exporter runs, the sending
//! program's sends go on while the ring has room; one that waits for room fails with
//! [`ErrorKind::Disconnected`] (nothing sent; it may try again). When the sending
//! program closes its end, the exporter publishes what the ring held and stops with
//! [`ErrorKind::Disconnected`]; a sending program killed without closing may be
//! followed by one that takes its end over, so the exporter waits.
//!
//! **Importer.** Its state file holds the stream sequence of the last message put
//! into the local object. At start it re-creates its durable consumer to deliver from
//! the next sequence, so messages come in stream order after any crash. For each
//! message it puts it in (a full object is waited on, with progress
//! acknowledgements so the server does not redeliver; never dropped), then records
//! "done `s`". The consumer acknowledges cumulatively (`AckPolicy::All`): one
//! acknowledgement, sent without waiting for the server, covers a run of messages
//! that arrived together, once each of them is in (and at the latest every
//! [`Options::batch`] messages, or when the object is full). A message it already
//! put in (a redelivery) is skipped. Killed anywhere, the restarted importer resumes
//! after the last "done" record: an unacknowledged run costs nothing but the server's
//! redelivery, which the re-created consumer makes at once. The window, for a
//! System V or POSIX queue and a FIFO: a kill after the local send and before its
//! "done" record (a few microseconds per message) delivers that one message twice
//! after the restart (the object keeps no trace of the send a restart could read,
//! and its reader may have taken the message already). It is told: the importer
//! records "putting" before each attempt (undone when the object was full and
//! nothing went in), and a restart that finds it counts [`Stats::maybe_twice`] and
//! calls [`Options::notice`] (a kill just before the send is told the same way). Into a FIFO, a message waits while no process has the
//! FIFO open for reading, and counts as put in once its frame is in the pipe (a
//! frame of more than `PIPE_BUF` bytes may be written in pieces, and an importer
//! killed between two pieces leaves half a frame, then writes it whole again); the
//! pipe's bytes are lost if the importer and every reader close it. A line-framed
//! FIFO refuses a message that holds a newline: the importer stops with an error
//! and the message stays in the stream. Into a channel ([`ChannelEnd`]), a full
//! ring is waited on, and there is no window: the importer records the position of
//! the room it reserved in the ring before publishing the message there, and a
//! restarted importer, which takes the sending end over
//! ([`Channel::take_over_sender`](crate::channel::Channel::take_over_sender)), sees
//! from the ring whether that message was published. The end is never closed:
//! while no importer runs, the receiving program gets what the ring holds, then a
//! receive that waits sees [`ErrorKind::Disconnected`] (it may try again).
//!
//! **Importer, early delivery** ([`Options::early_delivery`], on by default). On a
//! stream that holds its subject alone, the importer also subscribes to the subject
//! on core NATS, where the server hands each message on as it is published, before
//! JetStream has stored it and delivered it to the consumer. A message that comes
//! that way is put in at once, without waiting, if its `Nats-Msg-Id` is the
//! successor of the last message put in (the same exporter name, the next number)
//! and the object has room; the importer then records its source id ("done", with
//! the stream sequence unchanged). Anything else that comes early (out of turn, a
//! full object, a message too large) is dropped: the stream brings every message,
//! and the early path is only a shortcut. When the stream copy of a message put in
//! early comes, it is recognised by its source id (the same exporter, a number not
//! above the last one put in) and only acknowledged; those copies are acknowledged
//! and recorded in runs (the stream sequence in the state file may lag: after a
//! restart the consumer redelivers from there, and the source id skips them again).
//! Why this keeps the promises: one exporter's messages are stored in the order of
//! their numbers, each only after its predecessor (below), so "the successor of the
//! last one put in" is exactly the next message of that exporter in the stream;
//! a message is put in once, by whichever path is first, and the other path skips it
//! by its source id. A message that comes early but is never stored (the server
//! killed before storing it) is still in the exporter's object, unacknowledged; it is
//! published again with the same id, stored, and its copy skipped. Killed around an
//! early put, the importer has the same window as for a stream message (into a queue
//! or a FIFO, one message may be put in twice), and into a channel it records an
//! "ahead" phase with the ring position first, and a restart sees from the ring
//! whether the message went out. The one case the early path can deliver what the
//! stream never holds: a second exporter publishing to the stream, which the stream
//! refuses (`Nats-Expected-Last-Msg-Id`) and which stops with an error. The cost:
//! every message reaches the importer twice (early and from the stream); without
//! early delivery, a message waits for JetStream to store and deliver it. While the
//! importer is behind (64 messages in a row put in from the stream), early messages
//! are all stale, so it drops the subscription, and subscribes again once the
//! consumer has brought nothing for 2 ms.
//!
//! **Server.** With file storage, a restarted server keeps the stream, the consumer
//! and the de-duplication table; both bridges reconnect by themselves and retry.
//! A pull the server lost in a restart is made again: the importer re-creates its
//! consumer from the message after the last one it put in when nothing arrives for
//! five seconds, when pulls keep failing (the consumer may be gone), and when a
//! message comes after a gap in a stream that holds its subject only (a message lost
//! on the way, which the cumulative acknowledgement of its successor would cover).
//! The state files are written with `pwrite`, not `fsync`ed: they survive the bridge
//! process, not a power loss.
//!
//! Order is kept per exporter: each message also carries `Nats-Expected-Last-Msg-Id`
//! (its predecessor's id), so when a connection drops mid-batch and the client
//! replays later messages after reconnecting, the server refuses them until the lost
//! ones are republished in order. A stream therefore has one exporter. A message the
//! server refuses for another reason stops the exporter with an error.
//!
//! # Security
//!
//! `tls://` URLs (or [`Options::tls_ca`], [`Options::require_tls`]) use TLS;
//! [`Auth`] carries user/password, token, NKey seed or a `.creds` file. Credentials
//! are refused over plaintext to a host that is not a loopback address unless
//! [`Options::allow_plaintext_credentials`] is set.
//!
//! References: [JetStream](https://docs.nats.io/nats-concepts/jetstream),
//! [message de-duplication](https://docs.nats.io/using-nats/developer/develop_jetstream/model_deep_dive#message-deduplication),
//! [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html) (`MSG_COPY`).

mod channel;
mod export;
mod fifo;
mod import;
mod landing;
mod local;
mod spool;
mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream};

pub use channel::ChannelEnd;
pub use fifo::{FIFO_WRITE_MAX, FifoEnd, Framing};
pub use local::{Local, LocalMessage};

use crate::error::{Error, ErrorKind, Object, Result};

/// The header that carries the System V message type.
pub const HEADER_MTYPE: &str = "Ipckit-Mtype";
/// The header that carries the POSIX message priority.
pub const HEADER_PRIORITY: &str = "Ipckit-Priority";
/// The header that carries the largest body the source object takes.
pub const HEADER_MAX: &str = "Ipckit-Max";
/// The header that names the source object's kind (`sysv`, `posix`, `fifo`, `channel`).
pub const HEADER_KIND: &str = "Ipckit-Kind";

/// How to authenticate to the server.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// A user name and password.
    UserPassword(String, String),
    /// A token.
    Token(String),
    /// An NKey seed (`SU...`).
    NKey(String),
    /// A `.creds` file (JWT and NKey seed).
    CredsFile(PathBuf),
}

impl Auth {
    fn is_some(&self) -> bool {
        !matches!(self, Auth::None)
    }
}

/// Where and how a bridge connects, and what it keeps.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The server URL: `nats://host:port` or `tls://host:port`.
    pub server: String,
    /// The subject messages travel on.
    pub subject: String,
    /// The JetStream stream (default: [`default_stream`] of the subject).
    pub stream: String,
    /// The importer's durable consumer (default: [`default_durable`] of the subject).
    pub durable: String,
    /// The state file (see the module docs).
    pub state: PathBuf,
    /// Credentials.
    pub auth: Auth,
    /// A CA certificate (PEM) to trust for TLS.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and key (PEM) for TLS.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// Refuse a connection that is not TLS.
    pub require_tls: bool,
    /// Send credentials over plaintext to a non-loopback host all the same.
    pub allow_plaintext_credentials: bool,
    /// Exporter: most messages published and not yet removed (the window); importer:
    /// most messages put in before one acknowledgement covers them.
    pub batch: usize,
    /// The stream's de-duplication window (used when the bridge creates the stream).
    pub duplicate_window: Duration,
    /// How long the server waits for the importer's acknowledgement before
    /// redelivering.
    pub ack_wait: Duration,
    /// Importer: also subscribe to the subject on core NATS and put a message in as
    /// soon as it is published, when it is the next one from the exporter whose last
    /// message went in; its stream copy, which follows, is then only acknowledged
    /// (see the module docs). Each message then reaches the importer twice. On by
    /// default; without it, every message waits for its stream copy.
    pub early_delivery: bool,
    /// How long a bridge keeps looking without sleeping after its last message, giving
    /// up the CPU between looks: the importer for the next message from the server,
    /// the exporter for the next one in the local object (and, but for a POSIX
    /// queue's, which publishes spooled batches, for the server's acknowledgement).
    /// Waking a sleeping thread costs tens of microseconds on a
    /// virtual machine (about 75 on the one ipckit is measured on), and a round trip
    /// meets two such wake-ups per bridge; a spinning bridge pays none. The price is
    /// CPU, so a bridge spins only while one of the last four gaps between its
    /// messages was shorter than this (a conversation, a burst), not for a steady
    /// trickle further apart, where each spin would end in a sleep all the same; and
    /// never while idle. Default 300 µs; zero never spins.
    pub spin: Duration,
    /// Called, on the bridge's thread and before it goes on, with what a restart
    /// found that a person must know: a message a killed POSIX exporter took and
    /// could not publish ([`Stats::lost`]), or one a killed importer may have put in
    /// already and puts in again ([`Stats::maybe_twice`]). `None` (the default):
    /// only the counters and [`Stats::last_notice`] say it. The CLI prints it.
    pub notice: Option<fn(&str)>,
}

impl Options {
    /// Options with defaults for everything but the server, subject and state file.
    pub fn new(server: &str, subject: &str, state: impl AsRef<Path>) -> Options {
        Options {
            server: server.to_string(),
            subject: subject.to_string(),
            stream: default_stream(subject),
            durable: default_durable(subject),
            state: state.as_ref().to_path_buf(),
            auth: Auth::None,
            tls_ca: None,
            tls_client: None,
            require_tls: false,
            allow_plaintext_credentials: false,
            batch: 256,
            duplicate_window: Duration::from_secs(120),
            ack_wait: Duration::from_secs(30),
            early_delivery: true,
            spin: Idle::SPIN,
            notice: None,
        }
    }
}

/// The stream name made from a subject: `IPCKIT_` and the subject with every
/// character that a stream name cannot hold (`.`, `*`, `>`, spaces) as `_`.
pub fn default_stream(subject: &str) -> String {
    format!("IPCKIT_{}", sanitize(subject))
}

/// The importer's durable consumer name made from a subject.
pub fn default_durable(subject: &str) -> String {
    format!("ipckit_in_{}", sanitize(subject))
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// What a running bridge has done, shared with whoever watches it.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages moved (published and removed; or put in, and acknowledged when
    /// they came from the stream).
    pub moved: AtomicU64,
    /// Importer: of those, messages put in early (over core NATS, ahead of their
    /// stream copy; see [`Options::early_delivery`]).
    pub early: AtomicU64,
    /// Messages published or fetched and not yet done.
    pub in_flight: AtomicU64,
    /// Whether the bridge is connected to the server now.
    pub connected: AtomicBool,
    /// Exporter of a POSIX queue: messages a killed predecessor had taken from the
    /// queue and not written down, found at the start and saved to a file (see
    /// [`last_notice`](Self::last_notice)); they are not published.
    pub lost: AtomicU64,
    /// Importer into a System V or POSIX queue or a FIFO: messages a killed
    /// predecessor was putting in, which it may or may not have put in (the object
    /// keeps no evidence a restart could read), put in again: the object may hold
    /// them twice (see [`last_notice`](Self::last_notice)).
    pub maybe_twice: AtomicU64,
    last_error: Mutex<Option<String>>,
    last_notice: Mutex<Option<String>>,
}

impl Stats {
    /// The last error the bridge recovered from (it retries), if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    /// What the last message counted in [`lost`](Self::lost) or
    /// [`maybe_twice`](Self::maybe_twice) was (and where a lost one's bytes are).
    pub fn last_notice(&self) -> Option<String> {
        self.last_notice.lock().map(|e| e.clone()).unwrap_or(None)
    }

    /// Records `what` as the last notice and hands it to [`Options::notice`].
    fn notify(&self, opts: &Options, what: String) {
        if let Some(tell) = opts.notice {
            tell(&what);
        }
        if let Ok(mut slot) = self.last_notice.lock() {
            *slot = Some(what);
        }
    }

    fn set_error(&self, e: impl std::fmt::Display) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(e.to_string());
        }
    }
}

/// `fut`'s output, or `None` once `stop` is set (looked at every 20 ms): a bridge
/// told to stop does not wait out a request to a server that is gone. Only for
/// requests whose abandon loses nothing (making a consumer or a pull).
async fn unless_stopped<T>(stop: &AtomicBool, fut: impl std::future::Future<Output = T>) -> Option<T> {
    let stopped = async {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        biased;
        v = fut => Some(v),
        () = stopped => None,
    }
}

/// Flushes what the client holds, for at most two seconds: with the server gone, a
/// flush waits for a reconnection for ever, and a bridge told to stop must end. What
/// it cannot send then costs nothing: an exporter removed only acknowledged messages,
/// and an importer's lost acknowledgement is a redelivery its state file skips.
async fn flush_briefly(client: &async_nats::Client) {
    if client.connection_state() != async_nats::connection::State::Connected {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
}

fn nats_err(op: &'static str, opts: &Options, kind: ErrorKind, detail: impl std::fmt::Display) -> Error {
    Error::new(op, Object::Name(opts.server.clone()), kind).with_detail(detail.to_string())
}

/// Whether `server` names a loopback host (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(server: &str) -> bool {
    let rest = server.split("://").nth(1).unwrap_or(server);
    let hostport = rest.rsplit('@').next().unwrap_or(rest);
    let host = if let Some(h) = hostport.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

fn checks(opts: &Options) -> Result<()> {
    let scheme = opts.server.split("://").next().filter(|_| opts.server.contains("://")).unwrap_or("nats");
    if !matches!(scheme, "nats" | "tls") {
        return Err(nats_err(
            "connect",
            opts,
            ErrorKind::InvalidInput,
            format!("unknown URL scheme {scheme:?}: use nats://HOST:PORT or tls://HOST:PORT"),
        ));
    }
    let tls = scheme == "tls" || opts.require_tls || opts.tls_ca.is_some() || opts.tls_client.is_some();
    let creds_in_url = opts.server.split("://").nth(1).is_some_and(|r| r.contains('@'));
    if (opts.auth.is_some() || creds_in_url)
        && !tls
        && !is_loopback(&opts.server)
        && !opts.allow_plaintext_credentials
    {
        return Err(nats_err(
            "connect",
            opts,
            ErrorKind::PermissionDenied,
            "refusing to send credentials over a plaintext connection to a host that is not a loopback \
             address: use tls://, or allow it explicitly (allow_plaintext_credentials)",
        ));
    }
    if opts.subject.is_empty() || opts.subject.contains(['*', '>', ' ']) {
        return Err(nats_err(
            "connect",
            opts,
            ErrorKind::InvalidInput,
            format!("the subject {:?} must be a plain subject (no wildcards or spaces)", opts.subject),
        ));
    }
    if opts.batch == 0 {
        return Err(nats_err("connect", opts, ErrorKind::InvalidInput, "the batch size must be at least 1"));
    }
    Ok(())
}

async fn connect(opts: &Options, stats: Arc<Stats>) -> Result<async_nats::Client> {
    checks(opts)?;
    let events = stats.clone();
    let mut co = async_nats::ConnectOptions::new()
        .name("ipckit bridge")
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        // Messages a subscription holds before the client drops more (and says "slow
        // consumer"): room for the importer's pulls (at most two batches out), and a
        // bound on what the early subscription keeps while the local object is full.
        .subscription_capacity(opts.batch.saturating_mul(4).max(1024))
        .event_callback(move |ev| {
            let stats = events.clone();
            async move {
                match ev {
                    async_nats::Event::Connected => stats.connected.store(true, Ordering::Relaxed),
                    async_nats::Event::Disconnected => {
                        stats.connected.store(false, Ordering::Relaxed);
                        stats.set_error("disconnected from the server; reconnecting");
                    }
                    other => stats.set_error(other),
                }
            }
        });
    co = match &opts.auth {
        Auth::None => co,
        Auth::UserPassword(u, p) => co.user_and_password(u.clone(), p.clone()),
        Auth::Token(t) => co.token(t.clone()),
        Auth::NKey(seed) => co.nkey(seed.clone()),
        Auth::CredsFile(path) => co.credentials_file(path).await.map_err(|e| {
            Error::new("read credentials", Object::Path(path.clone()), ErrorKind::InvalidInput)
                .with_detail(e.to_string())
        })?,
    };
    if let Some(ca) = &opts.tls_ca {
        co = co.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &opts.tls_client {
        co = co.add_client_certificate(cert.clone(), key.clone());
    }
    if opts.require_tls || opts.server.starts_with("tls://") {
        co = co.require_tls(true);
    }
    let client = co.connect(opts.server.as_str()).await.map_err(|e| {
        use async_nats::ConnectErrorKind as K;
        // rustls reports a certificate it does not trust, or a server that does not
        // speak TLS, as an I/O error.
        let text = e.to_string();
        let wants_tls = opts.require_tls || opts.server.starts_with("tls://") || opts.tls_ca.is_some();
        let tls = e.kind() == K::Tls
            || (wants_tls && ["certificate", "corrupt message", "handshake"].iter().any(|w| text.contains(w)));
        let kind = match e.kind() {
            _ if tls => ErrorKind::PermissionDenied,
            K::ServerParse | K::Dns => ErrorKind::InvalidInput,
            K::Authentication | K::AuthorizationViolation => ErrorKind::PermissionDenied,
            K::TimedOut => ErrorKind::TimedOut,
            _ => ErrorKind::Disconnected,
        };
        let what = match e.kind() {
            _ if tls => "the TLS handshake failed (does the server speak TLS, and did the CA certificate sign its certificate?)",
            K::AuthorizationViolation | K::Authentication => "the server refused the credentials",
            K::ServerParse => "not a server URL",
            K::Io | K::TimedOut | K::MaxReconnects => {
                "cannot reach the server (is nats-server running there?)"
            }
            _ => "cannot connect",
        };
        nats_err("connect", opts, kind, format!("{what}: {e}"))
    })?;
    stats.connected.store(true, Ordering::Relaxed);
    Ok(client)
}

async fn ensure_stream(js: &jetstream::Context, opts: &Options) -> Result<stream::Stream> {
    let config = stream::Config {
        name: opts.stream.clone(),
        subjects: vec![opts.subject.clone()],
        storage: stream::StorageType::File,
        duplicate_window: opts.duplicate_window,
        ..Default::default()
    };
    // The exporter and the importer may start together: when the other made the
    // stream between this one's look and its create, the server refuses the create
    // ("subjects overlap"), and one more look finds the stream.
    let mut tries = 0;
    let made = loop {
        match js.get_or_create_stream(config.clone()).await {
            Err(_) if tries < 3 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20 * tries)).await;
            }
            other => break other,
        }
    };
    made.map_err(|e| {
        nats_err(
            "create stream",
            opts,
            ErrorKind::Other,
            format!(
                "stream {} for subject {}: {e} (is JetStream enabled on the server, nats-server -js?)",
                opts.stream, opts.subject
            ),
        )
    })
}

/// The bridge's loop and its connection's task on the calling thread (a
/// current-thread runtime, as the raw bench rows use): no thread hand-off per publish,
/// acknowledgement or delivery, each of which costs a wake-up of another thread. (The
/// stall once seen with it after a server restart was a pull the server had lost; the
/// importer now makes its pull again, see the module contract.)
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new("start runtime", Object::None, ErrorKind::Other).with_detail(e.to_string()))
}

/// The files in which exporters that used the state file `state` saved messages a
/// killed predecessor had taken from a POSIX queue and could not publish
/// (`<state>.lost-<id>`, see [`Stats::lost`]), oldest id first. They stay until
/// someone removes them; the CLI names them each time an exporter starts.
pub fn lost_files(state: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (state.parent(), state.file_name()) else { return Vec::new() };
    let prefix = format!("{}.lost-", name.to_string_lossy());
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name();
            let id = file.to_str()?.strip_prefix(&prefix)?.parse().ok()?;
            Some((id, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Runs an exporter: messages from `local` to `opts.subject`, until `stop` is set
/// (then it finishes the batch in flight and returns `Ok`). It runs on the calling
/// thread, whose timer slack (`prctl(PR_SET_TIMERSLACK)`) is 1 µs meanwhile. Connection trouble after
/// the start is retried (see `stats.last_error`); a bad URL, refused credentials or a
/// server that cannot be reached at the start are errors.
pub fn export(local: &Local, opts: &Options, stop: &AtomicBool, stats: &Arc<Stats>) -> Result<()> {
    let rt = runtime()?;
    let _slack = Slack::tight();
    let result = rt.block_on(export::export_async(local, opts, stop, stats));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Runs an importer: messages from `opts.subject` into `local`, until `stop` is set.
/// See [`export`] for errors.
pub fn import(local: &Local, opts: &Options, stop: &AtomicBool, stats: &Arc<Stats>) -> Result<()> {
    let rt = runtime()?;
    let _slack = Slack::tight();
    let result = rt.block_on(import::import_async(local, opts, stop, stats));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The calling thread's timer slack set to 1 µs while a bridge runs on it, so that
/// its idle naps of tens of microseconds are not stretched by the default 50 µs;
/// the old slack comes back on drop.
struct Slack(Option<usize>);

impl Slack {
    fn tight() -> Slack {
        let old = crate::sys::time::timer_slack();
        if old.is_some() {
            crate::sys::time::set_timer_slack(1_000);
        }
        Slack(old)
    }
}

impl Drop for Slack {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            crate::sys::time::set_timer_slack(old);
        }
    }
}

/// How a bridge waits while its local object has nothing for it (a System V queue
/// cannot be waited on without removing a message: `MSG_COPY` needs `IPC_NOWAIT`).
///
/// Adaptive: for the `spin` given to [`Idle::wait`] (see [`Pace`]) of wall time after
/// the last activity it only yields the CPU between looks, so a message that follows
/// soon (the reply of a round trip, the next of a burst) is seen within microseconds.
/// Then it sleeps between looks, each sleep 1/[`Idle::SHARE`] of the time the object
/// has been quiet, at least [`Idle::NAP`] and at most [`Idle::LONGEST`]. A message
/// thus waits for the bridge's next look about 1.5 % of the quiet time before it
/// (never more than 1 ms), where doubling sleeps would make it wait about half; the
/// price is a logarithmic number of looks: some 110 between 1 ms and 32 ms of quiet,
/// against 5. Long idle, a bridge wakes about a thousand times a second, each time for
/// one look (a few microseconds).
struct Idle {
    /// When the object was last found empty after activity.
    since: Option<std::time::Instant>,
    /// Looks since then.
    rounds: u32,
}

impl Idle {
    /// The default of [`Options::spin`].
    const SPIN: Duration = Duration::from_micros(300);
    /// The shortest sleep.
    const NAP: Duration = Duration::from_micros(30);
    /// Each sleep is the quiet time so far divided by this.
    const SHARE: u32 = 32;
    /// The longest sleep, reached after `SHARE` ms of quiet.
    const LONGEST: Duration = Duration::from_millis(1);

    fn new() -> Idle {
        Idle { since: None, rounds: 0 }
    }

    /// Something happened: the next wait starts spinning again.
    fn reset(&mut self) {
        self.since = None;
        self.rounds = 0;
    }

    /// How many times [`wait`](Self::wait) ran since the last [`reset`](Self::reset).
    fn rounds(&self) -> u32 {
        self.rounds
    }

    fn wait(&mut self, spin: Duration) {
        Idle::doze(self.next_nap(spin));
    }

    /// Yields the CPU (`None`: spinning) or sleeps `nap`.
    fn doze(nap: Option<Duration>) {
        match nap {
            None => std::thread::yield_now(),
            Some(nap) => std::thread::sleep(nap),
        }
    }

    /// Counts a look and says how long to sleep before the next: `None` while
    /// spinning.
    fn next_nap(&mut self, spin: Duration) -> Option<Duration> {
        self.rounds = self.rounds.wrapping_add(1);
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        Idle::nap(since.elapsed(), spin)
    }

    /// The sleep before the next look after `quiet` without activity: none while
    /// spinning.
    fn nap(quiet: Duration, spin: Duration) -> Option<Duration> {
        if quiet < spin {
            return None;
        }
        Some((quiet / Idle::SHARE).clamp(Idle::NAP, Idle::LONGEST))
    }
}

/// How an exporter waits while its local object has nothing for it: like [`Idle`]
/// (spinning after a message, then napping), except that where the object has a
/// descriptor that announces arrivals ([`Local::arrivals`]: a POSIX queue, a FIFO)
/// it sleeps on that descriptor in the runtime's `epoll` once the spin is over. Such
/// an exporter costs nothing while idle and wakes when a message comes, where naps
/// cost a thousand looks a second and up to a millisecond of delay. It looks again
/// at least every [`Quiet::LOOK`] all the same (a stop, or a wake the kernel did not
/// give).
struct Quiet {
    idle: Idle,
    /// A duplicate of the object's descriptor, in the reactor.
    arrivals: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl Quiet {
    const LOOK: Duration = Duration::from_millis(20);

    /// Must be called inside the runtime. A descriptor the reactor refuses leaves the
    /// naps.
    #[allow(unsafe_code)]
    fn new(local: &Local) -> Result<Quiet> {
        let arrivals = local.arrivals()?.and_then(|fd| {
            // SAFETY: the AsyncFd owns `fd` (an OwnedFd, a duplicate of the object's
            // descriptor): it stays open, and `as_raw_fd` returns the same number,
            // until the AsyncFd drops it, after deregistering it.
            unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                .ok()
        });
        Ok(Quiet { idle: Idle::new(), arrivals })
    }

    /// Something happened: the next wait starts spinning again.
    fn reset(&mut self) {
        self.idle.reset();
    }

    /// One wait before the next look; `spin` as for [`Idle::wait`].
    async fn wait(&mut self, spin: Duration) {
        match (self.idle.next_nap(spin), &self.arrivals) {
            (Some(_), Some(fd)) => {
                // Cleared before the look that follows: a message that comes after
                // it marks the descriptor again (edge-triggered), so none is missed.
                if let Ok(Ok(mut ready)) = tokio::time::timeout(Quiet::LOOK, fd.readable()).await {
                    ready.clear_ready();
                }
            }
            (nap, _) => {
                Idle::doze(nap);
                // The connection's tasks run on this thread too.
                if self.idle.rounds() % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}

/// Whether spinning pays (see [`Options::spin`]): while one of the last
/// [`Pace::GAPS`] gaps between messages was shorter than the spin. A bridge starts out
/// spinning.
struct Pace {
    /// [`Options::spin`].
    spin: Duration,
    /// When the last message went through.
    last: Option<std::time::Instant>,
    /// The last gaps between messages, oldest overwritten first (zero before there
    /// were any).
    gaps: [Duration; Pace::GAPS],
    next: usize,
}

impl Pace {
    const GAPS: usize = 4;

    fn new(spin: Duration) -> Pace {
        Pace { spin, last: None, gaps: [Duration::ZERO; Pace::GAPS], next: 0 }
    }

    /// A message went through now.
    fn mark(&mut self) {
        let now = std::time::Instant::now();
        if let Some(last) = self.last {
            self.gaps[self.next] = now - last;
            self.next = (self.next + 1) % Pace::GAPS;
        }
        self.last = Some(now);
    }

    /// How long to spin after a message now: [`Options::spin`], or zero for a
    /// trickle.
    fn spin(&self) -> Duration {
        if self.gaps.iter().any(|g| *g < self.spin) { self.spin } else { Duration::ZERO }
    }

    /// Whether the next message is to be looked for without sleeping now.
    fn spinning(&self) -> bool {
        self.last.is_some_and(|t| t.elapsed() < self.spin())
    }
}

/// One look of a spinning wait on the runtime: the CPU to any thread that wants it,
/// then a turn for the runtime, which polls its sockets without sleeping before it
/// comes back (a current-thread runtime runs a yielded future again only after that
/// poll), so a message or an acknowledgement that reached the socket is read.
async fn spin_once() {
    std::thread::yield_now();
    tokio::task::yield_now().await;
}

/// `fut`'s output: looked for without sleeping for up to `spin` (see
/// [`Options::spin`]), then waited for.
async fn spin_then_await<F: std::future::Future + Unpin>(fut: &mut F, spin: Duration) -> F::Output {
    let start = std::time::Instant::now();
    while start.elapsed() < spin {
        if let Some(out) = futures_util::FutureExt::now_or_never(&mut *fut) {
            return out;
        }
        spin_once().await;
    }
    fut.await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A POSIX queue of the calling test's own (4 messages of 64 bytes, the name
    /// unique to `tag`, this process and this moment), removed on drop, and a second
    /// descriptor of it to send with.
    pub(crate) fn posix_queue(tag: &str) -> (crate::posix::mq::MsgQueue, crate::posix::mq::MsgQueue) {
        use crate::posix::mq::{MsgQueue, QueueAttr};
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("/ipckit-{tag}-{}-{n:x}", std::process::id());
        let mut q =
            MsgQueue::create(&name, QueueAttr { maxmsg: 4, msgsize: 64 }, crate::Mode::OWNER_RW).unwrap();
        q.set_remove_on_drop(true).unwrap();
        let sender = MsgQueue::open(&name).unwrap();
        (q, sender)
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn idle_spins_then_sleeps_a_share_of_the_quiet_time() {
        let spin = Duration::from_micros(300);
        assert_eq!(Idle::nap(Duration::ZERO, spin), None);
        assert_eq!(Idle::nap(Duration::from_micros(299), spin), None);
        // Just past the spin, the shortest sleep.
        assert_eq!(Idle::nap(spin, spin), Some(Idle::NAP));
        // 4 ms of quiet (the bench's gap between two blocks of one row): 125 µs,
        // where doubling sleeps had reached 1 ms.
        assert_eq!(Idle::nap(4 * MS, spin), Some(Duration::from_micros(125)));
        // Never longer than the longest, however long the quiet.
        assert_eq!(Idle::nap(32 * MS, spin), Some(Idle::LONGEST));
        assert_eq!(Idle::nap(3600 * 1000 * MS, spin), Some(Idle::LONGEST));
        // Without spinning, sleeping from the start.
        assert_eq!(Idle::nap(Duration::ZERO, Duration::ZERO), Some(Idle::NAP));
    }

    #[test]
    fn idle_sleeps_grow_with_the_quiet_time() {
        let mut last = Duration::ZERO;
        for us in (0..40_000).step_by(250) {
            let nap = Idle::nap(Duration::from_micros(us), Duration::ZERO).unwrap();
            assert!(nap >= last, "{us} µs: {nap:?} after {last:?}");
            last = nap;
        }
    }
}
