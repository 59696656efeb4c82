//! `ipckit bridge out|in`: carries a local message queue, FIFO or channel over NATS
//! JetStream (`ipckit::bridge`). `out` publishes what arrives in the local object;
//! `in` puts what arrives on the subject into the local object. Status once a second: a line on
//! stderr when it is a terminal, a JSON line on stdout with `--json`. SIGINT and
//! SIGTERM stop it cleanly: the messages in flight are finished first.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use ipckit::bridge::{self, Auth, ChannelEnd, FifoEnd, Framing, Local, Options, Stats};
use ipckit::channel::{Channel, ChannelConfig};
use ipckit::fifo::Fifo;
use ipckit::posix::mq::{self, QueueAttr};
use ipckit::sysv::msg::MsgQueue;
use ipckit::{Key, Mode};

use crate::{Fail, Res};

const EXAMPLES: &str = "\
Examples:
  host A: ipckit bridge out --queue /tmp/app:1 --subject app.scores --server nats://hub:4222 --token-file t
  host B: ipckit bridge in  --subject app.scores --queue /tmp/app:1 --create --server nats://hub:4222 --token-file t
  ipckit bridge out --posix-queue /jobs --subject jobs --server tls://hub:4222 --creds me.creds
  ipckit bridge out --fifo /run/app/events --framing line --create --subject app.events
  ipckit bridge in  --subject app.events --channel /app-events --create

Delivery: nothing is removed from a System V queue, a FIFO or a channel before the server has
stored it (a POSIX queue is taken from and spooled to disk first; a message a kill
catches in between is saved to STATE.lost-ID and reported as LOST); every message
carries a Nats-Msg-Id, so a republish after a crash is dropped by the server; the importer puts a
message into the local queue before acknowledging it, and waits while the queue is full. The
importer also takes each message early over core NATS, when it is the next one from the same
exporter, and skips its stream copy (--no-early-delivery: stream copies only). See the README's
bridge section for the exact guarantees.";

/// Arguments of `ipckit bridge`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct BridgeArgs {
    #[command(subcommand)]
    pub dir: Dir,
}

/// Which way the messages go.
#[derive(Subcommand, Debug)]
pub enum Dir {
    /// Local queue, FIFO or channel -> NATS subject
    Out(Box<BridgeOpts>),
    /// NATS subject -> local queue, FIFO or channel
    In(Box<BridgeOpts>),
}

/// The options of both directions.
#[derive(Args, Debug)]
pub struct BridgeOpts {
    /// A System V message queue by key: 0xHEX, decimal, or PATH:PROJ (ftok)
    #[arg(long = "queue", value_name = "KEY", group = "local")]
    pub queue: Option<String>,
    /// A System V message queue by id
    #[arg(long = "queue-id", value_name = "ID", group = "local")]
    pub queue_id: Option<i32>,
    /// A POSIX message queue (/NAME)
    #[arg(long = "posix-queue", value_name = "/NAME", group = "local")]
    pub posix_queue: Option<String>,
    /// A FIFO (named pipe), framed as --framing says
    #[arg(long, value_name = "PATH", group = "local")]
    pub fifo: Option<PathBuf>,
    /// How messages are cut out of a FIFO: line (a newline ends each; a message cannot hold one)
    /// or length (a 4-byte little-endian length, then the message)
    #[arg(long, value_name = "line|length", default_value = "line", value_parser = ["line", "length"])]
    pub framing: String,
    /// An ipckit channel in a named POSIX shared-memory object (/NAME); `out` takes its
    /// receiving end, `in` its sending end
    #[arg(long, value_name = "/NAME", group = "local")]
    pub channel: Option<String>,
    /// An ipckit channel in a System V segment by key: 0xHEX, decimal, or PATH:PROJ
    #[arg(long = "channel-key", value_name = "KEY", group = "local")]
    pub channel_key: Option<String>,
    /// With --create: the new channel's ring size in bytes
    #[arg(long = "channel-capacity", value_name = "BYTES", default_value_t = 1 << 20)]
    pub channel_capacity: usize,
    /// The NATS subject
    #[arg(long, value_name = "SUBJ")]
    pub subject: String,
    /// The NATS server
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    pub server: String,
    /// Create the local queue, FIFO or channel (mode 0600) if missing
    #[arg(long)]
    pub create: bool,
    /// The JetStream stream (default: IPCKIT_ and the subject)
    #[arg(long, value_name = "NAME")]
    pub stream: Option<String>,
    /// The importer's durable consumer (default: ipckit_in_ and the subject)
    #[arg(long, value_name = "NAME")]
    pub durable: Option<String>,
    /// The state file (default: $XDG_STATE_HOME/ipckit/bridge/DIR-SUBJECT-OBJECT.state; a System V, FIFO or POSIX exporter keeps STATE.landing beside it, a POSIX one also STATE.spool and, for a message a kill took and could not publish, STATE.lost-ID)
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Exporter: most messages published and not yet removed; importer: most messages put in under one acknowledgement
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub batch: usize,
    /// Seconds the server waits for the importer's acknowledgement
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub ack_wait: u64,
    /// Importer: wait for each message's stream copy instead of also taking it early over core
    /// NATS (halves the importer's traffic, costs latency)
    #[arg(long)]
    pub no_early_delivery: bool,
    /// Microseconds the bridge keeps looking, without sleeping, for the next message (and the
    /// exporter for the server's acknowledgement) after one: waking from sleep costs tens of
    /// microseconds on a virtual machine, spinning up to this much CPU per message; 0 never
    /// spins
    #[arg(long, value_name = "MICROS", default_value_t = 300)]
    pub spin: u64,
    /// The stream's de-duplication window in seconds, when the bridge creates it
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub duplicate_window: u64,
    /// User name (with --password-file or NATS_PASSWORD)
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// A file holding the password (the environment variable NATS_PASSWORD also works)
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// A file holding the token (the environment variable NATS_TOKEN also works)
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// A file holding an NKey seed (SU...)
    #[arg(long, value_name = "PATH")]
    pub nkey: Option<PathBuf>,
    /// A .creds file (JWT and NKey seed)
    #[arg(long, value_name = "PATH")]
    pub creds: Option<PathBuf>,
    /// A CA certificate (PEM) to trust for TLS
    #[arg(long, value_name = "PATH")]
    pub tls_ca: Option<PathBuf>,
    /// A client certificate (PEM) for TLS (with --tls-key)
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's key (PEM)
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Refuse a connection that is not TLS
    #[arg(long)]
    pub require_tls: bool,
    /// Send credentials over plaintext to a host that is not a loopback address
    #[arg(long)]
    pub allow_plaintext_credentials: bool,
    /// A JSON status line on stdout once a second
    #[arg(long)]
    pub json: bool,
}

fn read_secret(path: &PathBuf, what: &str) -> Result<String, Fail> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| Fail::Msg(format!("cannot read the {what} file {}: {e}", path.display())))
}

fn auth(o: &BridgeOpts) -> Result<Auth, Fail> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let given = [o.user.is_some(), o.token_file.is_some(), o.nkey.is_some(), o.creds.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(Fail::Usage("give one of --user, --token-file, --nkey, --creds".into()));
    }
    if let Some(user) = &o.user {
        let pass = match &o.password_file {
            Some(p) => read_secret(p, "password")?,
            None => env("NATS_PASSWORD")
                .ok_or_else(|| Fail::Usage("--user needs --password-file or NATS_PASSWORD".into()))?,
        };
        return Ok(Auth::UserPassword(user.clone(), pass));
    }
    if let Some(p) = &o.token_file {
        return Ok(Auth::Token(read_secret(p, "token")?));
    }
    if let Some(p) = &o.nkey {
        return Ok(Auth::NKey(read_secret(p, "NKey seed")?));
    }
    if let Some(p) = &o.creds {
        return Ok(Auth::CredsFile(p.clone()));
    }
    if let Some(t) = env("NATS_TOKEN") {
        return Ok(Auth::Token(t));
    }
    Ok(Auth::None)
}

fn open_channel(o: &BridgeOpts) -> Result<Option<(Channel, String)>, Fail> {
    let config = || ChannelConfig::new().with_capacity(o.channel_capacity);
    let missing = |e: &ipckit::Error| o.create && e.kind() == ipckit::ErrorKind::NotFound;
    if let Some(name) = &o.channel {
        let chan = match Channel::open_named(name) {
            Ok(c) => c,
            Err(e) if missing(&e) => Channel::create_named(name, &config(), Mode::OWNER_RW)?,
            Err(e) => return Err(e.into()),
        };
        return Ok(Some((chan, format!("channel-{}", name.trim_start_matches('/')))));
    }
    if let Some(k) = &o.channel_key {
        let key: Key = crate::cmd::parse_key(k)?;
        let chan = match Channel::open_sysv(key) {
            Ok(c) => c,
            Err(e) if missing(&e) => Channel::create_sysv(key, &config(), Mode::OWNER_RW)?,
            Err(e) => return Err(e.into()),
        };
        return Ok(Some((chan, format!("channel-{key}"))));
    }
    Ok(None)
}

fn open_local(o: &BridgeOpts, out: bool) -> Result<(Local, String), Fail> {
    if let Some(path) = &o.fifo {
        let fifo = if o.create { Fifo::open_or_create(path, Mode::OWNER_RW)? } else { Fifo::at(path)? };
        let framing = if o.framing == "length" { Framing::Length } else { Framing::Line };
        let end = if out { FifoEnd::reader(fifo, framing)? } else { FifoEnd::writer(fifo, framing) };
        return Ok((Local::Fifo(end), format!("fifo-{}", path.display())));
    }
    if let Some((chan, object)) = open_channel(o)? {
        let end = if out { ChannelEnd::receiver(&chan)? } else { ChannelEnd::sender(&chan)? };
        return Ok((Local::Channel(end), object));
    }
    if let Some(k) = &o.queue {
        let key: Key = crate::cmd::parse_key(k)?;
        let q = if o.create { MsgQueue::open_or_create(key, Mode::OWNER_RW)? } else { MsgQueue::open(key)? };
        return Ok((Local::SysvQueue(q), format!("sysv-{key}")));
    }
    if let Some(id) = o.queue_id {
        return Ok((Local::SysvQueue(MsgQueue::from_id(id)?), format!("sysv-id{id}")));
    }
    if let Some(name) = &o.posix_queue {
        let q = match mq::MsgQueue::open(name) {
            Ok(q) => q,
            Err(e) if o.create && e.kind() == ipckit::ErrorKind::NotFound => {
                let maxmsg = ipckit::Limit::MqMsgMax.current().unwrap_or(10).min(10) as usize;
                let msgsize = ipckit::Limit::MqMsgSizeMax.current().unwrap_or(8192).min(8192) as usize;
                mq::MsgQueue::create(name, QueueAttr { maxmsg, msgsize }, Mode::OWNER_RW)?
            }
            Err(e) => return Err(e.into()),
        };
        return Ok((Local::PosixQueue(q), format!("posix-{}", name.trim_start_matches('/'))));
    }
    Err(Fail::Usage(
        "give the local object: --queue KEY, --queue-id ID, --posix-queue /NAME, --fifo PATH, \
         --channel /NAME or --channel-key KEY"
            .into(),
    ))
}

fn default_state(dir: &str, subject: &str, object: &str) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let clean = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
    };
    base.join("ipckit/bridge").join(format!("{dir}-{}-{}.state", clean(subject), clean(object)))
}

/// Runs `ipckit bridge`.
pub fn run(a: BridgeArgs) -> Res {
    let (out, o) = match a.dir {
        Dir::Out(o) => (true, o),
        Dir::In(o) => (false, o),
    };
    let dir = if out { "out" } else { "in" };
    let (local, object) = open_local(&o, out)?;
    let state = o.state.clone().unwrap_or_else(|| default_state(dir, &o.subject, &object));
    let mut opts = Options::new(&o.server, &o.subject, &state);
    if let Some(s) = &o.stream {
        opts.stream = s.clone();
    }
    if let Some(d) = &o.durable {
        opts.durable = d.clone();
    }
    opts.auth = auth(&o)?;
    opts.tls_ca = o.tls_ca.clone();
    opts.tls_client = o.tls_cert.clone().zip(o.tls_key.clone());
    opts.require_tls = o.require_tls;
    opts.allow_plaintext_credentials = o.allow_plaintext_credentials;
    opts.batch = o.batch;
    opts.ack_wait = Duration::from_secs(o.ack_wait.max(1));
    opts.early_delivery = !o.no_early_delivery;
    opts.spin = Duration::from_micros(o.spin);
    opts.duplicate_window = Duration::from_secs(o.duplicate_window.max(1));
    // What a restart finds that a person must know is printed at once, whatever the
    // status lines (and before the bridge goes on, so a kill right after cannot hide it).
    opts.notice = Some(|what| eprintln!("ipckit bridge: {what}"));

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| Fail::Msg(format!("cannot handle SIGINT/SIGTERM: {e}")))?;
    }
    let stats = Arc::new(Stats::default());
    let done = Arc::new(AtomicBool::new(false));
    let reporter = {
        let (stats, done, json) = (stats.clone(), done.clone(), o.json);
        let terminal = std::io::stderr().is_terminal();
        let label = format!("bridge {dir} {object} {} {}", if out { "->" } else { "<-" }, o.subject);
        std::thread::spawn(move || status_loop(&stats, &done, json, terminal, &label))
    };
    if out {
        let lost = bridge::lost_files(&opts.state);
        if !lost.is_empty() {
            let names: Vec<String> = lost.iter().map(|p| p.display().to_string()).collect();
            eprintln!(
                "ipckit bridge out: LOST earlier: {} message{} that a killed exporter took from the queue and \
                 could not publish, saved in: {} (remove each file once dealt with)",
                lost.len(),
                if lost.len() == 1 { "" } else { "s" },
                names.join(", ")
            );
        }
    }
    let result = if out {
        bridge::export(&local, &opts, &stop, &stats)
    } else {
        bridge::import(&local, &opts, &stop, &stats)
    };
    done.store(true, Ordering::SeqCst);
    let _ = reporter.join();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// A status line per second (JSON on stdout with `--json`, text on a terminal's
/// stderr), and one more when the bridge ends, with the totals.
fn status_loop(stats: &Stats, done: &AtomicBool, json: bool, terminal: bool, label: &str) {
    let start = Instant::now();
    let mut last = 0u64;
    let mut tick = Instant::now();
    loop {
        let lost = stats.lost.load(Ordering::Relaxed);
        let maybe_twice = stats.maybe_twice.load(Ordering::Relaxed);
        let ending = done.load(Ordering::SeqCst);
        if !ending {
            std::thread::sleep(Duration::from_millis(50));
            if tick.elapsed() < Duration::from_secs(1) {
                continue;
            }
        }
        let elapsed = tick.elapsed().as_secs_f64().max(1e-3);
        tick = Instant::now();
        let moved = stats.moved.load(Ordering::Relaxed);
        let early = stats.early.load(Ordering::Relaxed);
        let in_flight = stats.in_flight.load(Ordering::Relaxed);
        let connected = stats.connected.load(Ordering::Relaxed);
        let err = stats.last_error();
        let rate = moved.saturating_sub(last) as f64 / elapsed;
        last = moved;
        if json {
            let line = serde_json::json!({
                "t": (start.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                "bridge": label,
                "moved": moved,
                "early": early,
                "per_second": rate.round(),
                "in_flight": in_flight,
                "connected": connected,
                "lost": lost,
                "maybe_twice": maybe_twice,
                "last_error": err,
                "final": ending,
            });
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                return;
            }
        }
        if terminal {
            let _ = writeln!(
                std::io::stderr(),
                "ipckit {label}: moved {moved} ({rate:.0}/s{}), in flight {in_flight}, {}{}",
                if early > 0 { format!(", {early} early") } else { String::new() },
                if connected { "connected" } else { "NOT connected" },
                err.map(|e| format!(", last error: {e}")).unwrap_or_default()
            );
        }
        if ending {
            return;
        }
    }
}
