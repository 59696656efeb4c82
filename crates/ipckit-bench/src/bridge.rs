//! The `bridge` mechanism: System V queues carried over NATS by ipckit's bridge, next
//! to a raw NATS request/reply with the same client (`async-nats`), both through a
//! private `nats-server` the scenario starts and stops.
//!
//! Contract:
//! - **ipckit variant**: four private System V queues A, B, C, D and, in a bridge host
//!   process, four bridges: A -> out -> subject 1 -> in -> B and C -> out -> subject 2
//!   -> in -> D, on JetStream streams with file storage. The parent's side sends to A
//!   and receives from D, the child's receives from B and sends to C: a round trip
//!   crosses four bridges and the server twice, a throughput message one pair. The
//!   setup returns only once one message went all the way round.
//! - **two hosts on one machine**: each side's two bridges (the exporter of the queue
//!   it sends to, the importer of the one it receives from) run on its CPU, as they
//!   would on its host; the server, the network between the hosts, floats. The
//!   bridges keep their default [`spin`](ipckit::bridge::Options::spin).
//! - **raw variant**: the parent publishes on `up` with `down` as its reply subject,
//!   the child answers on the reply subject (core NATS, no JetStream): the request/
//!   reply the bridge is compared with. Each side has its own client on a
//!   current-thread runtime, made after `fork` and dropped (threads joined) before
//!   the next one; the two sides shake hands before the first message.
//! - **raw JetStream** (`bridge-js`, the second reference): each side publishes into
//!   a file-storage stream (`bench.js.up`, `bench.js.down`) and waits for the
//!   acknowledgement, and reads the other stream through a pull consumer,
//!   acknowledging each message: what a JetStream bridge cannot do without, with the
//!   same client and the same current-thread runtimes.
//! - **the server**: `nats-server -js` on a free loopback port with its store in a
//!   temporary directory, killed when the setup drops, and by the kernel if the
//!   benchmark dies (`PR_SET_PDEATHSIG`); the bridge host ends when the pipe from the
//!   parent closes (the setup drops, or the parent dies).
//! - the process is still single-threaded when it forks the measurement's child: the
//!   bridges' threads live in the bridge host, a child forked before them.
//! - [`nats_server`] says why the rows are skipped when there is no `nats-server`.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ipckit::bridge::{self, Local, Stats};
use ipckit::sysv::msg::{MsgQueue, QueueUpdate, Select};
use ipckit::{Key, Mode};

use crate::measure::{Placement, fork, wait_child};
use crate::{BenchError, Setup, Side, raw};

/// How long a side waits for a message (or a publish) before it calls the run failed.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long a side's last flush may take (the server may be gone).
const GOODBYE: Duration = Duration::from_secs(2);

/// `fut`, or an error after `limit`: a client whose server died waits for a
/// reconnection for ever, and the benchmark must end all the same.
async fn within<T, E: From<String>>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| Err(E::from(format!("no answer from the server in {} s", limit.as_secs()))))
}

/// The nats-server binary, or why there is none.
pub(crate) fn nats_server() -> Result<PathBuf, String> {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths).map(|d| d.join("nats-server")).find(|p| p.is_file())
            })
        })
        .ok_or_else(|| "nats-server is not installed (apt-get install nats-server)".to_string())
}

/// A private nats-server with JetStream.
struct Server {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Result<Server, BenchError> {
        let exe = nats_server()?;
        let dir =
            tempfile::Builder::new().prefix("ipckit-bench-nats-").tempdir().map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free loopback port: {e}"))?
            .port();
        let log = std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
        let cpus = raw::original_cpus();
        let mut cmd = Command::new(&exe);
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir.path().join("js"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        raw::die_with_parent(&mut cmd, cpus);
        let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || server.child.try_wait().ok().flatten().is_some() {
                return Err(format!("nats-server did not start: {}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Its store is thrown away with the directory: no need for a clean shutdown.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn queue() -> Result<MsgQueue, BenchError> {
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).map_err(|e| e.to_string())?;
    q.set_remove_on_drop(true).map_err(|e| e.to_string())?;
    // Room for a backlog of small messages (needs privilege above msgmnb; best effort).
    let more = QueueUpdate { qbytes: Some(1 << 20), ..QueueUpdate::default() };
    let _ = q.update(&more);
    Ok(q)
}

/// The ipckit variant's shared objects: the server, the queues and the bridge host.
pub(crate) struct Bridges {
    /// A, B, C, D (see the module docs).
    queues: [MsgQueue; 4],
    /// Closing it ends the bridge host.
    stop: Option<std::io::PipeWriter>,
    host: Option<ipckit::process::Child>,
    server: Server,
}

impl Bridges {
    pub(crate) fn new(at: Placement) -> Result<Bridges, BenchError> {
        let server = Server::start()?;
        let queues = [queue()?, queue()?, queue()?, queue()?];
        let (mut reader, writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let mut writer = Some(writer);
        let url = server.url();
        let ids = queues.each_ref().map(MsgQueue::id);
        let state = server.dir.path().to_path_buf();
        let cpus = raw::original_cpus();
        let host = fork(|| {
            // The host keeps no write end: the parent's closing it is the signal to stop.
            drop(writer.take());
            let _ = raw::pin(&cpus);
            bridge_host(&url, ids, at, &state, &mut reader)
        })?;
        drop(reader);
        let mut bridges = Bridges { queues, stop: writer, host: Some(host), server };
        bridges.first_message().map_err(|e| format!("the bridges did not carry a message: {e}"))?;
        Ok(bridges)
    }

    /// Sends one message all the way round (A -> B, C -> D), so that the measurement
    /// starts with every bridge connected and its stream and consumer made.
    fn first_message(&mut self) -> Result<(), BenchError> {
        let [a, b, c, d] = &self.queues;
        let mut buf = [0u8; 8];
        let deadline = Instant::now() + PATIENCE;
        let err = |e: ipckit::Error| format!("{e}; the server's log ends: {}", self.server.log());
        a.send(&buf, 1).map_err(err)?;
        let got = b.recv_deadline(&mut buf, Select::Any, deadline).map_err(err)?;
        c.send(&buf[..got.len], 1).map_err(err)?;
        d.recv_deadline(&mut buf, Select::Any, deadline).map_err(err)?;
        Ok(())
    }
}

impl Drop for Bridges {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(host) = self.host.take() {
            // The bridges finish what is in flight and return within a second or two.
            let _ = wait_child(host);
        }
    }
}

/// The bridge host's code: four bridges until the parent closes the pipe, each on the
/// CPU of the side whose queue it serves.
fn bridge_host(
    url: &str,
    ids: [i32; 4],
    at: Placement,
    state: &std::path::Path,
    pipe: &mut std::io::PipeReader,
) -> i32 {
    let stop = Arc::new(AtomicBool::new(false));
    let plan = [
        (ids[0], true, "bench.one", at.parent),
        (ids[1], false, "bench.one", at.child),
        (ids[2], true, "bench.two", at.child),
        (ids[3], false, "bench.two", at.parent),
    ];
    let threads: Vec<_> = plan
        .into_iter()
        .map(|(id, out, subject, cpu)| {
            let stop = stop.clone();
            let file = state.join(format!("{}-{subject}.state", if out { "out" } else { "in" }));
            let opts = bridge::Options::new(url, subject, file);
            std::thread::spawn(move || {
                // Unpinned (floating) if the CPU cannot be had.
                let _ = raw::pin(&[cpu]);
                let local = match MsgQueue::from_id(id) {
                    Ok(q) => Local::SysvQueue(q),
                    Err(e) => return Err(e),
                };
                let stats = Arc::new(Stats::default());
                if out {
                    bridge::export(&local, &opts, &stop, &stats)
                } else {
                    bridge::import(&local, &opts, &stop, &stats)
                }
            })
        })
        .collect();
    // Blocks until the parent closes its end (or dies).
    let _ = pipe.read(&mut [0u8; 1]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut code = 0;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("ipckit-bench bridge: {e}");
                code = 3;
            }
            Err(_) => code = 101,
        }
    }
    code
}

struct BridgeSide {
    to: MsgQueue,
    from: MsgQueue,
}

impl Setup for Bridges {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let (to, from) = if parent { (0, 3) } else { (2, 1) };
        let open = |i: usize| MsgQueue::from_id(self.queues[i].id()).map_err(|e| e.to_string());
        Ok(Box::new(BridgeSide { to: open(to)?, from: open(from)? }))
    }
}

impl Side for BridgeSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.to.send_timeout(data, 1, PATIENCE).map_err(|e| format!("into the bridge: {e}"))
    }
    /// A plain blocking `msgrcv`, as the seed's receiver does: the kernel wakes it the
    /// moment the importer puts a message in. (A timed receive would poll, sleeping
    /// ever longer between looks, and measure its own sleeps; the raw rows wait in
    /// `epoll` all the same.) The watchdog ends the wait on a bridge that died.
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        let watchdog = raw::Watchdog::arm(PATIENCE)?;
        let got = self.from.recv(data, Select::Any).map_err(|e| {
            if e.kind() == ipckit::ErrorKind::Interrupted {
                format!("out of the bridge: nothing in {} s", PATIENCE.as_secs())
            } else {
                format!("out of the bridge: {e}")
            }
        })?;
        drop(watchdog);
        if got.len != data.len() {
            return Err(format!("out of the bridge: {} bytes, {} expected", got.len, data.len()));
        }
        Ok(())
    }
}

/// A raw side's runtime: current-thread, as each bridge runs on, made after `fork`.
fn side_runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// A raw side's client of the private server at `url`.
async fn connect(url: &str) -> Result<async_nats::Client, BenchError> {
    async_nats::connect(url).await.map_err(|e| format!("connect {url}: {e}"))
}

/// The raw variant's shared object: the server.
pub(crate) struct RawNats {
    server: Server,
}

impl RawNats {
    pub(crate) fn new() -> Result<RawNats, BenchError> {
        Ok(RawNats { server: Server::start()? })
    }
}

const UP: &str = "bench.up";
const DOWN: &str = "bench.down";

/// One end of the raw request/reply: its own client on a current-thread runtime.
struct NatsSide {
    rt: tokio::runtime::Runtime,
    client: async_nats::Client,
    /// Always there but in `drop` (dropping it needs the runtime).
    sub: Option<async_nats::Subscriber>,
    parent: bool,
    /// The child's: the reply subject of the last request.
    reply: Option<async_nats::Subject>,
}

impl Setup for RawNats {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let (rt, url) = (side_runtime()?, self.server.url());
        let (client, sub) = rt.block_on(async {
            let client = connect(&url).await?;
            let sub = client.subscribe(if parent { DOWN } else { UP }).await.map_err(|e| e.to_string())?;
            client.flush().await.map_err(|e| e.to_string())?;
            Ok::<_, BenchError>((client, sub))
        })?;
        let mut side = NatsSide { rt, client, sub: Some(sub), parent, reply: None };
        side.handshake()?;
        Ok(Box::new(side))
    }
}

impl NatsSide {
    /// The parent says hello (an empty request) until the child answers; the child
    /// waits for it. Afterwards each side's subscription is known to be in place.
    fn handshake(&mut self) -> Result<(), BenchError> {
        let deadline = Instant::now() + PATIENCE;
        let (client, sub) = (&self.client, self.sub.as_mut().ok_or("no subscription")?);
        self.rt.block_on(async {
            loop {
                if Instant::now() > deadline {
                    return Err("no answer to the hello".to_string());
                }
                if self.parent {
                    client
                        .publish_with_reply(UP, DOWN, Vec::new().into())
                        .await
                        .map_err(|e| e.to_string())?;
                    client.flush().await.map_err(|e| e.to_string())?;
                    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await
                        && m.payload.is_empty()
                        && m.status.is_none()
                    {
                        // The child's answer (the server's "no responders" status,
                        // empty too, says only that the child is not listening yet).
                        return Ok(());
                    }
                } else if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await
                    && m.payload.is_empty()
                    && let Some(reply) = m.reply
                {
                    client.publish(reply, Vec::new().into()).await.map_err(|e| e.to_string())?;
                    client.flush().await.map_err(|e| e.to_string())?;
                    return Ok(());
                }
            }
        })
    }
}

impl Side for NatsSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        let client = &self.client;
        let to = if self.parent { UP.into() } else { self.reply.clone().unwrap_or_else(|| DOWN.into()) };
        self.rt
            .block_on(within(PATIENCE, async {
                if self.parent {
                    client.publish_with_reply(to, DOWN, data.to_vec().into()).await?;
                } else {
                    client.publish(to, data.to_vec().into()).await?;
                }
                // Out on the socket now, not at the next poll of the connection.
                client.flush().await.map_err(|e| e.to_string().into())
            }))
            .map_err(|e: Box<dyn std::error::Error>| format!("publish: {e}"))
    }

    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        let (client, sub) = (&self.client, self.sub.as_mut().ok_or("no subscription")?);
        let m = self.rt.block_on(async {
            loop {
                let m = tokio::time::timeout(PATIENCE, sub.next())
                    .await
                    .map_err(|_| "no message in 30 s".to_string())?
                    .ok_or_else(|| "the subscription ended".to_string())?;
                if !m.payload.is_empty() && m.status.is_none() {
                    return Ok::<_, BenchError>(m);
                }
                // A late hello (or its answer): answer it, and wait on.
                if let Some(reply) = m.reply {
                    client.publish(reply, Vec::new().into()).await.map_err(|e| e.to_string())?;
                }
            }
        })?;
        if m.payload.len() != data.len() {
            return Err(format!("{} bytes, {} expected", m.payload.len(), data.len()));
        }
        data.copy_from_slice(&m.payload);
        if !self.parent {
            self.reply = m.reply;
        }
        Ok(())
    }
}

impl Drop for NatsSide {
    fn drop(&mut self) {
        // What was published must reach the server before the process exits (unless
        // the server is gone: a flush waits for a reconnection).
        let _ = self.rt.block_on(async { tokio::time::timeout(GOODBYE, self.client.flush()).await });
        // The subscriber's drop unsubscribes through a task of the runtime.
        let _inside = self.rt.enter();
        drop(self.sub.take());
    }
}

/// The second reference's shared object: the server (each side makes the two
/// streams, `get_or_create` being idempotent, and its own pull consumer).
pub(crate) struct RawJetStream {
    server: Server,
}

impl RawJetStream {
    pub(crate) fn new() -> Result<RawJetStream, BenchError> {
        Ok(RawJetStream { server: Server::start()? })
    }
}

const JS_UP: &str = "bench.js.up";
const JS_DOWN: &str = "bench.js.down";

/// One end of the raw JetStream round trip: its own client on a current-thread
/// runtime, publishing into its outgoing stream (and waiting for the server's
/// acknowledgement, as the exporter does) and reading its incoming stream through a
/// pull consumer (acknowledging each message, as the importer does).
struct JsSide {
    rt: tokio::runtime::Runtime,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    /// Always there but in `drop` (dropping it needs the runtime).
    messages: Option<async_nats::jetstream::consumer::pull::Stream>,
    parent: bool,
}

impl Setup for RawJetStream {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        use async_nats::jetstream::{consumer, stream};
        let (rt, url) = (side_runtime()?, self.server.url());
        let (client, js, messages) = rt.block_on(async {
            let client = connect(&url).await?;
            let js = async_nats::jetstream::new(client.clone());
            let mut incoming = None;
            for (name, subject) in [("BENCH_JS_UP", JS_UP), ("BENCH_JS_DOWN", JS_DOWN)] {
                let config = stream::Config {
                    name: name.to_string(),
                    subjects: vec![subject.to_string()],
                    storage: stream::StorageType::File,
                    duplicate_window: Duration::from_secs(120),
                    ..Default::default()
                };
                // Both sides make both streams: when the other side made one between
                // this side's look and its create, the server refuses the create
                // ("subjects overlap"), and one more look finds it.
                let mut tries = 0u64;
                let s = loop {
                    match js.get_or_create_stream(config.clone()).await {
                        Err(_) if tries < 3 => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(20 * tries)).await;
                        }
                        other => break other,
                    }
                }
                .map_err(|e| format!("stream {name}: {e}"))?;
                if (subject == JS_DOWN) == parent {
                    incoming = Some(s);
                }
            }
            let incoming = incoming.ok_or("no incoming stream")?;
            let consumer = incoming
                .create_consumer(consumer::pull::Config {
                    durable_name: Some(if parent { "parent" } else { "child" }.to_string()),
                    ack_policy: consumer::AckPolicy::All,
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("consumer: {e}"))?;
            let messages = consumer.messages().await.map_err(|e| format!("pull: {e}"))?;
            Ok::<_, BenchError>((client, js, messages))
        })?;
        Ok(Box::new(JsSide { rt, client, js, messages: Some(messages), parent }))
    }
}

impl Side for JsSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        let subject = if self.parent { JS_UP } else { JS_DOWN };
        let js = &self.js;
        self.rt.block_on(within(PATIENCE, async {
            let ack = js.publish(subject, data.to_vec().into()).await.map_err(|e| format!("publish: {e}"))?;
            ack.await.map(|_| ()).map_err(|e| format!("publish acknowledgement: {e}"))
        }))
    }

    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        let messages = self.messages.as_mut().ok_or("no consumer")?;
        let m = self.rt.block_on(async {
            let m = tokio::time::timeout(PATIENCE, messages.next())
                .await
                .map_err(|_| "no message in 30 s".to_string())?
                .ok_or_else(|| "the consumer's stream ended".to_string())?
                .map_err(|e| format!("pull: {e}"))?;
            // Sent, not waited for, as the importer does.
            m.ack().await.map_err(|e| format!("ack: {e}"))?;
            Ok::<_, BenchError>(m)
        })?;
        if m.payload.len() != data.len() {
            return Err(format!("{} bytes, {} expected", m.payload.len(), data.len()));
        }
        data.copy_from_slice(&m.payload);
        Ok(())
    }
}

impl Drop for JsSide {
    fn drop(&mut self) {
        let _ = self.rt.block_on(async { tokio::time::timeout(GOODBYE, self.client.flush()).await });
        // The pull stream's drop needs the runtime.
        let _inside = self.rt.enter();
        drop(self.messages.take());
    }
}
