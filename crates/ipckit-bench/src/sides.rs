//! The ipckit variants of each loop: the same protocol as `raw.rs`, through ipckit.

use std::time::Duration;

use ipckit::channel::{Channel, ChannelConfig, Receiver, Sender, WaitStrategy};
use ipckit::posix::mq::{self, QueueAttr};
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::{Attachment, ShmSegment};
use ipckit::{Key, Mode};

use crate::{BenchError, Setup, Side};

fn e(err: ipckit::Error) -> BenchError {
    err.to_string()
}

/// `sysv-msg` through [`MsgQueue`].
pub(crate) struct SysvMsg {
    q: MsgQueue,
}

impl SysvMsg {
    pub(crate) fn new() -> Result<SysvMsg, BenchError> {
        let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).map_err(e)?;
        q.set_remove_on_drop(true).map_err(e)?;
        Ok(SysvMsg { q })
    }
}

struct MsgSide {
    q: MsgQueue,
    send_type: i64,
    recv_type: i64,
}

impl Side for MsgSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.q.send(data, self.send_type).map_err(e)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        self.q.recv(data, Select::Type(self.recv_type)).map(|_| ()).map_err(e)
    }
}

impl Setup for SysvMsg {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let q = MsgQueue::from_id(self.q.id()).map_err(e)?;
        let (s, r) = if parent { (1, 2) } else { (2, 1) };
        Ok(Box::new(MsgSide { q, send_type: s, recv_type: r }))
    }
}

/// `sysv-sem` through [`SemSet`] and [`Attachment`]: the protocol of `raw::RawSysvSem`.
pub(crate) struct SysvSem {
    sems: SemSet,
    seg: ShmSegment,
    /// Keeps the segment alive, already marked for removal, until the sides attach.
    _keep: Attachment,
    size: usize,
}

impl SysvSem {
    pub(crate) fn new(size: usize) -> Result<SysvSem, BenchError> {
        let mut sems = SemSet::create(Key::PRIVATE, &[1, 0, 1, 0], Mode::OWNER_RW).map_err(e)?;
        sems.set_remove_on_drop(true).map_err(e)?;
        let mut seg = ShmSegment::create(Key::PRIVATE, 2 * size, Mode::OWNER_RW).map_err(e)?;
        seg.set_remove_on_drop(true).map_err(e)?;
        // Attached and marked for removal at once (Linux still lets the two sides
        // attach it by id): the kernel frees it with the last detach, even if the
        // benchmark is killed. Not removed again on drop: its id may be reused by then.
        let keep = seg.attach().map_err(e)?;
        seg.set_remove_on_drop(false).map_err(e)?;
        ShmSegment::from_id(seg.id()).and_then(ShmSegment::remove).map_err(e)?;
        Ok(SysvSem { sems, seg, _keep: keep, size })
    }
}

struct SemSide {
    sems: SemSet,
    mem: Attachment,
    send_off: usize,
    recv_off: usize,
    send_sems: u16,
    recv_sems: u16,
}

impl Side for SemSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.sems.p(self.send_sems).map_err(e)?;
        self.mem.write_at(self.send_off, data).map_err(e)?;
        self.sems.v(self.send_sems + 1).map_err(e)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        self.sems.p(self.recv_sems + 1).map_err(e)?;
        self.mem.read_at(self.recv_off, data).map_err(e)?;
        self.sems.v(self.recv_sems).map_err(e)
    }
}

impl Setup for SysvSem {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let sems = SemSet::from_id(self.sems.id()).map_err(e)?;
        let mem = self.seg.attach().map_err(e)?;
        let (a, b) = (0, self.size);
        Ok(Box::new(if parent {
            SemSide { sems, mem, send_off: a, recv_off: b, send_sems: 0, recv_sems: 2 }
        } else {
            SemSide { sems, mem, send_off: b, recv_off: a, send_sems: 2, recv_sems: 0 }
        }))
    }
}

/// `posix-mq` through [`mq::MsgQueue`].
pub(crate) struct PosixMq {
    queues: [mq::MsgQueue; 2],
}

impl PosixMq {
    pub(crate) fn new(size: usize, maxmsg: usize) -> Result<PosixMq, BenchError> {
        let pid = std::process::id();
        let attr = QueueAttr { maxmsg, msgsize: size };
        let mut a =
            mq::MsgQueue::create(&format!("/ipckit-bench-q-{pid}-a"), attr, Mode::OWNER_RW).map_err(e)?;
        a.set_remove_on_drop(true).map_err(e)?;
        let mut b =
            mq::MsgQueue::create(&format!("/ipckit-bench-q-{pid}-b"), attr, Mode::OWNER_RW).map_err(e)?;
        b.set_remove_on_drop(true).map_err(e)?;
        Ok(PosixMq { queues: [a, b] })
    }
}

struct MqSide {
    w: mq::MsgQueue,
    r: mq::MsgQueue,
}

impl Side for MqSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.w.send(data, 0).map_err(e)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        self.r.recv(data).map(|_| ()).map_err(e)
    }
}

impl Setup for PosixMq {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let [a, b] = &self.queues;
        let a = mq::MsgQueue::open(a.name()).map_err(e)?;
        let b = mq::MsgQueue::open(b.name()).map_err(e)?;
        Ok(Box::new(if parent { MqSide { w: a, r: b } } else { MqSide { w: b, r: a } }))
    }
}

/// How the channel variants move payloads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ChannelMode {
    /// `send` / `recv` copies, adaptive waiting.
    Adaptive,
    /// `send` / `recv` copies, spinning.
    Spin,
    /// Loans and in-place guards, spinning: the sender fills the payload in place,
    /// the receiver reads one word per cache line in place.
    Loan,
}

/// The channel: one per direction, in memfds shared by `fork`.
pub(crate) struct ChannelPair {
    chans: [Channel; 2],
    mode: ChannelMode,
}

impl ChannelPair {
    pub(crate) fn new(size: usize, mode: ChannelMode) -> Result<ChannelPair, BenchError> {
        let config = ChannelConfig::new().with_capacity((4 * size).max(64 * 1024)).with_max_message(size);
        Ok(ChannelPair {
            chans: [Channel::create_memfd(&config).map_err(e)?, Channel::create_memfd(&config).map_err(e)?],
            mode,
        })
    }
}

struct ChannelSide {
    tx: Sender,
    rx: Receiver,
    mode: ChannelMode,
}

impl Side for ChannelSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        if self.mode != ChannelMode::Loan {
            return self.tx.send(data).map_err(e);
        }
        let mut loan = self.tx.loan(data.len()).map_err(e)?;
        let p = loan.as_mut_ptr();
        // SAFETY: `p` is valid for `data.len()` bytes until the commit; the receiver
        // does not touch uncommitted space. The fill stands for a producer that builds
        // its message in place.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::write_bytes(p, 0x5A, data.len());
            *p = data[0];
        }
        loan.commit();
        Ok(())
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        if self.mode != ChannelMode::Loan {
            return self.rx.recv(data).map(|_| ()).map_err(e);
        }
        let g = self.rx.recv_in_place().map_err(e)?;
        let p = g.as_ptr();
        let mut sum = 0u64;
        let mut off = 0;
        while off + 8 <= g.len() {
            // SAFETY: `p + off` is inside the message (off + 8 <= len) while the guard
            // lives; read_unaligned copies the word out.
            #[allow(unsafe_code)]
            let w = unsafe { std::ptr::read_unaligned(p.add(off).cast::<u64>()) };
            sum = sum.wrapping_add(w);
            off += 64;
        }
        std::hint::black_box(sum);
        g.read_at(0, &mut data[..1]).map_err(e)?;
        Ok(())
    }
}

impl Setup for ChannelPair {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let (out, back) = if parent { (0, 1) } else { (1, 0) };
        let mut tx = self.chans[out].sender().map_err(e)?;
        let mut rx = self.chans[back].receiver().map_err(e)?;
        let strategy = match self.mode {
            ChannelMode::Adaptive => WaitStrategy::default(),
            ChannelMode::Spin | ChannelMode::Loan => WaitStrategy::Spin,
        };
        tx.set_wait_strategy(strategy);
        rx.set_wait_strategy(strategy);
        Ok(Box::new(ChannelSide { tx, rx, mode: self.mode }))
    }
}

/// An idle receiver: how much CPU a receiver blocked in `recv` burns, in percent of
/// one core, while its sender sleeps for `idle`.
pub(crate) fn idle_cpu_percent(idle: Duration) -> Result<f64, BenchError> {
    let chan = Channel::create_memfd(&ChannelConfig::new()).map_err(e)?;
    let page = crate::raw::SharedPage::new()?;
    let child = crate::measure::fork(|| {
        let Ok(mut rx) = chan.receiver() else { return 2 };
        let cpu0 = crate::raw::process_cpu_ns();
        let t0 = std::time::Instant::now();
        let mut buf = [0u8; 8];
        if rx.recv(&mut buf).is_err() {
            return 3;
        }
        page.word(0).store(crate::raw::process_cpu_ns() - cpu0, std::sync::atomic::Ordering::SeqCst);
        page.word(1).store(t0.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::SeqCst);
        0
    })?;
    let mut tx = chan.sender().map_err(e)?;
    std::thread::sleep(idle);
    tx.send(&[0; 8]).map_err(e)?;
    crate::measure::wait_child(child)?;
    let cpu = page.word(0).load(std::sync::atomic::Ordering::SeqCst) as f64;
    let wall = page.word(1).load(std::sync::atomic::Ordering::SeqCst) as f64;
    Ok(100.0 * cpu / wall.max(1.0))
}

/// A byte stream each way through ipckit's pipe ends (`Read`/`Write`).
struct StreamSide {
    w: ipckit::pipe::PipeWriter,
    r: ipckit::pipe::PipeReader,
}

impl Side for StreamSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        std::io::Write::write_all(&mut self.w, data).map_err(|e| e.to_string())
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        std::io::Read::read_exact(&mut self.r, data).map_err(|e| e.to_string())
    }
}

/// `pipe` through [`ipckit::pipe::pipe`].
pub(crate) struct Pipe {
    a: (ipckit::pipe::PipeReader, ipckit::pipe::PipeWriter),
    b: (ipckit::pipe::PipeReader, ipckit::pipe::PipeWriter),
}

impl Pipe {
    pub(crate) fn new() -> Result<Pipe, BenchError> {
        Ok(Pipe { a: ipckit::pipe::pipe().map_err(e)?, b: ipckit::pipe::pipe().map_err(e)? })
    }
}

impl Setup for Pipe {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let (out, back) = if parent { (&self.a, &self.b) } else { (&self.b, &self.a) };
        Ok(Box::new(StreamSide { w: out.1.try_clone().map_err(e)?, r: back.0.try_clone().map_err(e)? }))
    }
}

/// `fifo` through [`ipckit::fifo::Fifo`].
pub(crate) struct Fifo {
    _dir: tempfile::TempDir,
    a: ipckit::fifo::Fifo,
    b: ipckit::fifo::Fifo,
}

impl Fifo {
    pub(crate) fn new() -> Result<Fifo, BenchError> {
        let dir = tempfile::tempdir().map_err(|err| format!("tempdir: {err}"))?;
        let mut a = ipckit::fifo::Fifo::create(dir.path().join("a"), Mode::OWNER_RW).map_err(e)?;
        a.set_remove_on_drop(true).map_err(e)?;
        let mut b = ipckit::fifo::Fifo::create(dir.path().join("b"), Mode::OWNER_RW).map_err(e)?;
        b.set_remove_on_drop(true).map_err(e)?;
        Ok(Fifo { _dir: dir, a, b })
    }
}

impl Setup for Fifo {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        // Both sides open "a" first, then "b": each open waits for its peer's.
        Ok(Box::new(if parent {
            let w = self.a.open_write().map_err(e)?;
            StreamSide { w, r: self.b.open_read().map_err(e)? }
        } else {
            let r = self.a.open_read().map_err(e)?;
            StreamSide { r, w: self.b.open_write().map_err(e)? }
        }))
    }
}

/// `uds`, `uds-seqpacket`, `uds-dgram` through [`ipckit::socket`]: a pair of that type.
pub(crate) enum Uds {
    Stream(ipckit::socket::UnixStream, ipckit::socket::UnixStream),
    Seqpacket(ipckit::socket::UnixSeqpacket, ipckit::socket::UnixSeqpacket),
    Datagram(ipckit::socket::UnixDatagram, ipckit::socket::UnixDatagram),
}

impl Uds {
    pub(crate) fn stream() -> Result<Uds, BenchError> {
        let (a, b) = ipckit::socket::UnixStream::pair().map_err(e)?;
        Ok(Uds::Stream(a, b))
    }
    pub(crate) fn seqpacket() -> Result<Uds, BenchError> {
        let (a, b) = ipckit::socket::UnixSeqpacket::pair().map_err(e)?;
        Ok(Uds::Seqpacket(a, b))
    }
    pub(crate) fn datagram() -> Result<Uds, BenchError> {
        let (a, b) = ipckit::socket::UnixDatagram::pair().map_err(e)?;
        Ok(Uds::Datagram(a, b))
    }
}

impl Setup for Uds {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        Ok(match self {
            Uds::Stream(a, b) => {
                Box::new(UdsStreamSide((if parent { &*a } else { &*b }).try_clone().map_err(e)?))
            }
            Uds::Seqpacket(a, b) => {
                Box::new(SeqSide((if parent { &*a } else { &*b }).try_clone().map_err(e)?))
            }
            Uds::Datagram(a, b) => {
                Box::new(DgramSide((if parent { &*a } else { &*b }).try_clone().map_err(e)?))
            }
        })
    }
}

struct UdsStreamSide(ipckit::socket::UnixStream);

impl Side for UdsStreamSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.0.send_all(data).map_err(e)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        self.0.recv_exact(data).map_err(e)
    }
}

macro_rules! packet_side {
    ($Side:ident, $T:ty) => {
        struct $Side($T);

        impl Side for $Side {
            fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
                let n = self.0.send(data).map_err(e)?;
                if n != data.len() { Err(format!("send: {n} of {} bytes", data.len())) } else { Ok(()) }
            }
            fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
                let n = self.0.recv(data).map_err(e)?;
                if n != data.len() { Err(format!("recv: {n} of {} bytes", data.len())) } else { Ok(()) }
            }
        }
    };
}

packet_side!(SeqSide, ipckit::socket::UnixSeqpacket);
packet_side!(DgramSide, ipckit::socket::UnixDatagram);

/// `uds-fd` through [`ipckit::socket`]: every message carries one descriptor.
pub(crate) struct UdsFd {
    a: ipckit::socket::UnixSeqpacket,
    b: ipckit::socket::UnixSeqpacket,
    file: std::fs::File,
}

impl UdsFd {
    pub(crate) fn new() -> Result<UdsFd, BenchError> {
        let (a, b) = ipckit::socket::UnixSeqpacket::pair().map_err(e)?;
        let file = std::fs::File::open("/dev/null").map_err(|err| format!("open /dev/null: {err}"))?;
        Ok(UdsFd { a, b, file })
    }
}

impl Setup for UdsFd {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let s = (if parent { &self.a } else { &self.b }).try_clone().map_err(e)?;
        Ok(Box::new(FdPassSide { s, file: self.file.try_clone().map_err(|err| err.to_string())? }))
    }
}

struct FdPassSide {
    s: ipckit::socket::UnixSeqpacket,
    file: std::fs::File,
}

impl Side for FdPassSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        use std::os::fd::AsFd;
        self.s.send_fds(data, &[self.file.as_fd()]).map(drop).map_err(e)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        let got = self.s.recv_fds(data, 1).map_err(e)?;
        if got.len != data.len() || got.fds.len() != 1 {
            return Err(format!("recvmsg: {} bytes, {} descriptors", got.len, got.fds.len()));
        }
        Ok(())
    }
}

/// `tcp` through [`ipckit::socket::Framed`] over loopback TCP.
pub(crate) struct Tcp {
    a: std::net::TcpStream,
    b: std::net::TcpStream,
}

impl Tcp {
    pub(crate) fn new() -> Result<Tcp, BenchError> {
        let (a, b) = crate::raw::tcp_pair()?;
        Ok(Tcp { a, b })
    }
}

impl Setup for Tcp {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let s = (if parent { &self.a } else { &self.b }).try_clone().map_err(|err| err.to_string())?;
        Ok(Box::new(TcpSide(ipckit::socket::Framed::new(s).map_err(e)?)))
    }
}

struct TcpSide(ipckit::socket::Framed<std::net::TcpStream>);

impl Side for TcpSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.0.send(data).map_err(e)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        let n = self.0.recv_into(data).map_err(e)?;
        if n != data.len() { Err(format!("frame of {n} bytes, expected {}", data.len())) } else { Ok(()) }
    }
}
