//! iceoryx2's inter-process publish/subscribe (`ipc::Service`), busy-polling its
//! subscribers.
//!
//! Two flavours. [`make`]: a lossless service, as a user who must not lose messages sets
//! it up: `slots` messages of buffer per subscriber, no safe overflow, a publisher that
//! retries until delivered (`RetryUntilDelivered`), history 0. [`make_bench`]: as
//! iceoryx2's own publish-subscribe benchmark sets it up: buffer 1, safe overflow (the
//! oldest message is overwritten), and the next sample loaned before waiting for the
//! reply; lossless only in a round trip, so it is used only there.
//!
//! Pitfalls met here:
//! - A subscriber connects to a publisher lazily, on its first receive: a message
//!   published before the publisher has seen the subscriber is lost (unless the service
//!   keeps history), and even after that, while the subscriber has not received yet, a
//!   publisher that finds its buffer full skips it *even with `RetryUntilDelivered`*
//!   (`send` returns fewer recipients, no error). Found here: with three subscribers
//!   polled in turn, the third had not yet received when the publisher had filled its
//!   buffer. So each end waits in [`End::ready`] until its publisher's service counts
//!   every subscriber and its subscribers' service has a publisher, then connects each
//!   subscriber with `update_connections`; and every `send` checks that it reached
//!   every subscriber.
//! - With the default safe overflow, a publisher faster than its subscriber silently
//!   replaces unread messages; the sequence checks catch that, so the lossless flavour
//!   turns it off and lets the publisher wait.
//! - Everything lives under a root directory (default `/tmp/iceoryx2/`) and in
//!   `/dev/shm/iox2_*`; a process that dies leaves its node's files until some node
//!   cleans up dead nodes. [`Scope`] gives this run its own root directory and file
//!   prefix and removes both when it is dropped, also on a panic.
//! - A node by default installs SIGINT/SIGTERM handlers that only set a flag; the ends
//!   here use `SignalHandlingMode::Disabled` so that Ctrl-C still stops the run.

use std::path::PathBuf;
use std::sync::OnceLock;

use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::prelude::*;
use iceoryx2::sample_mut::SampleMut;
use iceoryx2::service::port_factory::publish_subscribe::PortFactory as PubSub;

use crate::harness::{BenchError, End, Link, Mode, Poll, Spec, check, ends_of, stamp, sum_words, unique};

static CONFIG: OnceLock<Config> = OnceLock::new();

/// This run's iceoryx2 files: a root directory of its own and a file prefix of its own.
/// Dropping it (in the process that made it) removes the directory and every
/// `/dev/shm` entry with the prefix.
pub struct Scope {
    root: PathBuf,
    prefix: String,
}

impl Scope {
    /// Sets up iceoryx2's configuration for this run; call once, before any `fork`.
    pub fn new() -> Result<Scope, BenchError> {
        let pid = std::process::id();
        let root = PathBuf::from(format!("/tmp/ipckit-peers-{pid}/"));
        let prefix = format!("ipkpeers{pid}_");
        let mut config = Config::default();
        config.global.set_root_path(
            &Path::new(root.to_string_lossy().as_bytes())
                .map_err(|e| format!("iceoryx2 root path: {e:?}"))?,
        );
        config.global.prefix =
            FileName::new(prefix.as_bytes()).map_err(|e| format!("iceoryx2 prefix: {e:?}"))?;
        CONFIG.set(config).map_err(|_| "iceoryx2 is set up twice".to_string())?;
        set_log_level(LogLevel::Error);
        Ok(Scope { root, prefix })
    }

    /// What is left of this run's files (after cleaning, this should be nothing).
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(dir) = std::fs::read_dir("/dev/shm") {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&self.prefix) {
                    out.push(format!("/dev/shm/{name}"));
                }
            }
        }
        if self.root.exists() {
            out.push(self.root.display().to_string());
        }
        out
    }

    /// Removes this run's files; returns what could not be removed.
    pub fn clean(&self) -> Vec<String> {
        for path in self.leftovers() {
            let _ = if path.ends_with('/') || std::path::Path::new(&path).is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
        self.leftovers()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let left = self.clean();
        if !left.is_empty() {
            eprintln!("ipckit-peers: could not remove {}", left.join(", "));
        }
    }
}

fn config() -> Result<&'static Config, BenchError> {
    CONFIG.get().ok_or_else(|| "iceoryx2 is not set up (Scope::new)".to_string())
}

/// The lossless flavour (see the module docs).
pub fn make(spec: &Spec) -> Result<Box<dyn Link>, BenchError> {
    Ok(Box::new(IoxLink { spec: *spec, bench: false, name: unique("iox2") }))
}

/// The flavour of iceoryx2's own benchmark (see the module docs): round trips only.
pub fn make_bench(spec: &Spec) -> Result<Box<dyn Link>, BenchError> {
    Ok(Box::new(IoxLink { spec: *spec, bench: true, name: unique("iox2b") }))
}

struct IoxLink {
    spec: Spec,
    bench: bool,
    name: String,
}

type Svc = ipc::Service;

fn e<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> BenchError {
    move |err| format!("iceoryx2 {what}: {err:?}")
}

impl IoxLink {
    fn service(
        &self,
        node: &Node<Svc>,
        dir: &str,
        subscribers: usize,
    ) -> Result<PubSub<Svc, [u8], ()>, BenchError> {
        let name = ServiceName::new(&format!("{}/{dir}", self.name)).map_err(e("service name"))?;
        let builder = node
            .service_builder(&name)
            .publish_subscribe::<[u8]>()
            .max_publishers(1)
            .max_subscribers(subscribers)
            .history_size(0);
        let builder = if self.bench {
            builder.subscriber_max_buffer_size(1).enable_safe_overflow(true)
        } else {
            builder.subscriber_max_buffer_size(self.spec.slots).enable_safe_overflow(false)
        };
        builder.open_or_create().map_err(e("open_or_create service"))
    }
}

impl Link for IoxLink {
    fn end(&mut self, parent: bool) -> Result<Box<dyn End>, BenchError> {
        let node = NodeBuilder::new()
            .config(config()?)
            .signal_handling_mode(SignalHandlingMode::Disabled)
            .create::<Svc>()
            .map_err(e("node"))?;
        let down = self.service(&node, "down", 1)?;
        let up = self.service(&node, "up", self.spec.subscribers)?;
        let (pub_service, sub_service, subs) =
            if parent { (down, up, self.spec.subscribers) } else { (up, down, 1) };
        let buffer = if self.bench { 1 } else { self.spec.slots };
        let subscribers = (0..subs)
            .map(|_| sub_service.subscriber_builder().buffer_size(buffer).create().map_err(e("subscriber")))
            .collect::<Result<Vec<_>, _>>()?;
        let publisher = pub_service
            .publisher_builder()
            .initial_max_slice_len(self.spec.size)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .create()
            .map_err(e("publisher"))?;
        let want = if parent { 1 } else { self.spec.subscribers };
        Ok(Box::new(IoxEnd {
            next: None,
            publisher,
            subscribers,
            pub_service,
            sub_service,
            _node: node,
            spec: self.spec,
            bench: self.bench,
            want,
            buf: vec![0xA5; self.spec.size],
        }))
    }
}

/// Ports first: fields drop in order, and ports go before their services and node.
struct IoxEnd {
    next: Option<SampleMut<Svc, [u8], ()>>,
    publisher: Publisher<Svc, [u8], ()>,
    subscribers: Vec<Subscriber<Svc, [u8], ()>>,
    pub_service: PubSub<Svc, [u8], ()>,
    sub_service: PubSub<Svc, [u8], ()>,
    _node: Node<Svc>,
    spec: Spec,
    bench: bool,
    want: usize,
    buf: Vec<u8>,
}

impl IoxEnd {
    /// A loaned sample of the spec's size, the whole message written into it.
    fn loan(&mut self, seq: u64) -> Result<SampleMut<Svc, [u8], ()>, BenchError> {
        let uninit = self.publisher.loan_slice_uninit(self.spec.size).map_err(e("loan_slice_uninit"))?;
        stamp(&mut self.buf, seq);
        Ok(uninit.write_from_slice(&self.buf))
    }
}

impl End for IoxEnd {
    fn ready(&mut self) -> Result<(), BenchError> {
        let mut poll = Poll::new();
        while self.pub_service.dynamic_config().number_of_subscribers() < self.want {
            poll.tick("iceoryx2: waiting for the subscribers")?;
        }
        // A subscriber connects to a publisher only on its first receive (or an explicit
        // update); until then a publisher that finds the subscriber's buffer full skips it
        // and counts it as not reached. Connect every subscriber now.
        let mut poll = Poll::new();
        while self.sub_service.dynamic_config().number_of_publishers() < 1 {
            poll.tick("iceoryx2: waiting for the publisher")?;
        }
        for sub in &self.subscribers {
            sub.update_connections().map_err(e("subscriber update_connections"))?;
        }
        Ok(())
    }

    fn send(&mut self, seq: u64) -> Result<(), BenchError> {
        let sample = match self.next.take() {
            Some(mut s) => {
                stamp(s.payload_mut(), seq);
                s
            }
            None => self.loan(seq)?,
        };
        let reached = sample.send().map_err(e("send"))?;
        if reached < self.want {
            return Err(format!(
                "iceoryx2 send: message {seq} reached {reached} of {} subscribers",
                self.want
            ));
        }
        if self.bench {
            // As its benchmark does: loan the next sample before waiting for the reply.
            self.next = Some(self.loan(seq + 1)?);
        }
        Ok(())
    }

    fn recv(&mut self, seq: u64) -> Result<(), BenchError> {
        let size = self.spec.size;
        for sub in &self.subscribers {
            let mut poll = Poll::new();
            let sample = loop {
                if let Some(s) = sub.receive().map_err(e("receive"))? {
                    break s;
                }
                poll.tick("iceoryx2 receive")?;
            };
            let payload = sample.payload();
            let n = payload.len();
            match self.spec.mode {
                Mode::Copy => {
                    let m = n.min(size);
                    self.buf[..m].copy_from_slice(&payload[..m]);
                    let (h, t) = ends_of(&self.buf[..m]);
                    check("iceoryx2", n, size, h, t, seq)?;
                }
                Mode::Loan | Mode::LoanRead => {
                    if self.spec.mode == Mode::LoanRead {
                        // SAFETY: the payload is valid for `n` bytes while the sample lives.
                        unsafe { sum_words(payload.as_ptr(), n) };
                    }
                    let (h, t) = ends_of(payload);
                    check("iceoryx2", n, size, h, t, seq)?;
                }
            }
        }
        Ok(())
    }
}
