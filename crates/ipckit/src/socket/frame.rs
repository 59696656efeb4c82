//! Length-prefixed messages over a byte stream (Unix stream or TCP).
//!
//! Wire format, the contract between both ends (and any other language): each frame
//! is a 4-byte **little-endian** unsigned length `n` followed by `n` bytes of payload.
//! Nothing else: no magic, no padding. A reader refuses a length above its maximum
//! before allocating anything, and since it cannot find the next frame after that,
//! the connection is unusable from then on (every later call says why).

use std::fmt;
use std::io::IoSlice;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::UnixStream;
use super::unix::{FOREVER, NEVER, sock_error, with_wait};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::sys::socket as raw;
use crate::sys::{self, Errno};
use crate::wait::Wait;

/// The default largest frame a [`Framed`] reader accepts: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// The size of the length prefix.
pub const FRAME_HEADER: usize = 4;

/// A byte-stream socket that [`Framed`] can carry frames over: ipckit's and the
/// standard library's Unix streams, and TCP streams.
///
/// Sealed: the framing reads and writes the descriptor directly.
pub trait FrameSocket: AsFd + private::Sealed {
    /// Called once when the socket is wrapped: TCP turns Nagle's algorithm off
    /// (`TCP_NODELAY`), so a small frame leaves at once.
    fn prepare(&self) -> Result<()> {
        Ok(())
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::UnixStream {}
    impl Sealed for std::os::unix::net::UnixStream {}
    impl Sealed for std::net::TcpStream {}
}

impl FrameSocket for UnixStream {}
impl FrameSocket for std::os::unix::net::UnixStream {}
impl FrameSocket for TcpStream {
    fn prepare(&self) -> Result<()> {
        raw::set_nodelay(self.as_fd(), true)
            .map_err(|e| sock_error("setsockopt(TCP_NODELAY)", Object::Fd(self.as_raw_fd()), e))
    }
}

/// Where a partly received frame stands.
#[derive(Default)]
struct RxState {
    header: [u8; FRAME_HEADER],
    header_have: usize,
    body: Option<Vec<u8>>,
    body_have: usize,
}

/// Messages as length-prefixed frames over a stream socket `S`
/// ([`UnixStream`], [`std::os::unix::net::UnixStream`], [`TcpStream`]).
///
/// Sending writes a whole frame or fails; receiving returns whole frames in order.
/// The receive family is `recv` / `try_recv` / `recv_timeout` / `recv_deadline`
/// (and `recv_with` a [`Wait`]); a frame that arrives in pieces is kept across calls,
/// so a `try_recv` that finds half a frame loses nothing. The peer closing its end
/// between frames or in the middle of one is [`ErrorKind::Disconnected`] (with how much
/// of the frame had arrived), never a hang and never a short message.
///
/// ```
/// use ipckit::socket::{Framed, UnixStream};
///
/// let (a, b) = UnixStream::pair()?;
/// let (mut a, mut b) = (Framed::new(a)?, Framed::new(b)?);
/// a.send(b"hello")?;
/// a.send_value(&("point", 3u32, -4i64))?;
/// assert_eq!(b.recv()?, b"hello");
/// assert_eq!(b.recv_value::<(String, u32, i64)>()?, ("point".to_string(), 3, -4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Framed<S> {
    sock: S,
    max_frame: usize,
    rx: RxState,
    /// Why the stream cannot carry frames any more (a refused length, a half-sent
    /// frame), once that has happened.
    broken: Option<String>,
}

impl<S: FrameSocket> fmt::Debug for Framed<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framed")
            .field("fd", &self.sock.as_fd().as_raw_fd())
            .field("max_frame", &self.max_frame)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Framed<TcpStream> {
    /// Connects to a TCP address and sets `TCP_NODELAY`.
    pub fn connect_tcp(addr: impl ToSocketAddrs) -> Result<Framed<TcpStream>> {
        let s = TcpStream::connect(addr).map_err(|e| {
            let errno = Errno(e.raw_os_error().unwrap_or(0));
            sock_error("connect", Object::Name("tcp".into()), errno).with_detail(e.to_string())
        })?;
        Framed::new(s)
    }
}

impl Framed<UnixStream> {
    /// Connects to a Unix stream socket.
    pub fn connect_unix(addr: impl Into<super::UnixAddr>) -> Result<Framed<UnixStream>> {
        Framed::new(UnixStream::connect(addr)?)
    }
}

impl<S: FrameSocket> Framed<S> {
    /// Wraps a connected stream socket (setting `TCP_NODELAY` on TCP).
    pub fn new(sock: S) -> Result<Framed<S>> {
        sock.prepare()?;
        Ok(Framed { sock, max_frame: DEFAULT_MAX_FRAME, rx: RxState::default(), broken: None })
    }

    /// Sets the largest frame this end accepts (default [`DEFAULT_MAX_FRAME`]); at most
    /// `u32::MAX` bytes, the most the length prefix can say.
    pub fn with_max_frame(mut self, bytes: usize) -> Result<Framed<S>> {
        if bytes > u32::MAX as usize {
            return Err(Error::new("frame", self.obj(), ErrorKind::InvalidInput)
                .with_detail(format!("a maximum frame of {bytes} bytes exceeds the 4-byte length prefix")));
        }
        self.max_frame = bytes;
        Ok(self)
    }

    /// The largest frame this end sends or accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.sock
    }

    /// The socket back. A frame partly received is dropped.
    pub fn into_inner(self) -> S {
        self.sock
    }

    fn obj(&self) -> Object {
        Object::Fd(self.sock.as_fd().as_raw_fd())
    }

    fn check_broken(&self, op: &'static str) -> Result<()> {
        match &self.broken {
            Some(why) => Err(Error::new(op, self.obj(), ErrorKind::Corrupted)
                .with_detail(format!("the stream cannot carry frames any more: {why}"))),
            None => Ok(()),
        }
    }

    /// Sends one frame, waiting for room as needed.
    ///
    /// A frame larger than [`max_frame`](Self::max_frame) is refused
    /// ([`ErrorKind::MessageTooLarge`]): the peer would refuse it too, if it uses
    /// the same maximum.
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, FOREVER)
    }

    /// Like [`send`](Self::send) but never waits for room before the first byte:
    /// [`ErrorKind::WouldBlock`] if the socket is full. Once the first byte is out, the rest of the
    /// frame is sent, waiting as needed: a frame is never left half-sent by a `try_`.
    pub fn try_send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, NEVER)
    }

    /// Like [`send`](Self::send), waiting at most `timeout` for room; see
    /// [`send_with`](Self::send_with).
    pub fn send_timeout(&mut self, data: &[u8], timeout: Duration) -> Result<()> {
        self.send_with(data, Wait::Timeout(timeout))
    }

    /// Like [`send`](Self::send), waiting until `deadline` at the latest; see
    /// [`send_with`](Self::send_with).
    pub fn send_deadline(&mut self, data: &[u8], deadline: Instant) -> Result<()> {
        self.send_with(data, Wait::Deadline(deadline))
    }

    /// Sends one frame within `wait`. [`ErrorKind::WouldBlock`] or
    /// [`ErrorKind::TimedOut`] if no room came before the first byte (nothing was sent). Without waiting, a frame once started is finished (see
    /// [`try_send`](Self::try_send)); with a timeout or deadline that runs out after
    /// part of the frame left, the call fails with [`ErrorKind::TimedOut`] and the
    /// stream is unusable from then on (its peer would read a torn frame).
    pub fn send_with(&mut self, data: &[u8], wait: Wait) -> Result<()> {
        let op = "frame send";
        self.check_broken(op)?;
        if data.len() > self.max_frame {
            return Err(Error::new(op, self.obj(), ErrorKind::MessageTooLarge).with_detail(format!(
                "a frame of {} bytes exceeds the maximum frame of {} bytes",
                data.len(),
                self.max_frame
            )));
        }
        let header = (data.len() as u32).to_le_bytes();
        let total = FRAME_HEADER + data.len();
        let fd = self.sock.as_fd();
        let mut sent = 0;
        let deadline = wait.deadline();
        while sent < total {
            let bufs_all;
            let bufs: &[IoSlice<'_>] = if sent < FRAME_HEADER {
                bufs_all = [IoSlice::new(&header[sent..]), IoSlice::new(data)];
                &bufs_all
            } else {
                bufs_all = [IoSlice::new(&data[sent - FRAME_HEADER..]), IoSlice::new(&[])];
                &bufs_all[..1]
            };
            let step = if sent == 0 {
                wait
            } else {
                match (wait, deadline) {
                    (NEVER, _) | (FOREVER, _) | (_, None) => FOREVER,
                    (_, Some(d)) => Wait::Deadline(d),
                }
            };
            match with_wait(fd, true, step, |nb| raw::send_msg(fd, bufs, &[], None, None, nb)) {
                Ok(n) => sent += n,
                Err(e @ (Errno::EAGAIN | Errno::ETIMEDOUT)) if sent > 0 => {
                    let why = format!("a send timed out after {sent} of {total} bytes of a frame");
                    self.broken = Some(why.clone());
                    return Err(sock_error(op, self.obj(), e)
                        .with_kind(ErrorKind::TimedOut)
                        .with_detail(why));
                }
                Err(e) => return Err(sock_error("sendmsg", self.obj(), e)),
            }
        }
        Ok(())
    }

    /// Receives one frame, waiting as long as it takes.
    pub fn recv(&mut self) -> Result<Vec<u8>> {
        self.recv_with(FOREVER)
    }

    /// Like [`recv`](Self::recv) but never waits: [`ErrorKind::WouldBlock`] if no whole
    /// frame is there (a partial frame is kept for the next call).
    pub fn try_recv(&mut self) -> Result<Vec<u8>> {
        self.recv_with(NEVER)
    }

    /// Like [`recv`](Self::recv), waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Vec<u8>> {
        self.recv_with(Wait::Timeout(timeout))
    }

    /// Like [`recv`](Self::recv), waiting until `deadline` at the latest.
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<Vec<u8>> {
        self.recv_with(Wait::Deadline(deadline))
    }

    /// Receives one frame within `wait`: [`ErrorKind::WouldBlock`] (no waiting) or
    /// [`ErrorKind::TimedOut`] if none was complete in time.
    ///
    /// A length above [`max_frame`](Self::max_frame) is refused before any memory is
    /// allocated for it ([`ErrorKind::MessageTooLarge`]); the peer closing the
    /// connection is [`ErrorKind::Disconnected`].
    pub fn recv_with(&mut self, wait: Wait) -> Result<Vec<u8>> {
        let op = "frame recv";
        self.check_broken(op)?;
        let deadline = wait.deadline();
        loop {
            match self.step(op, wait != FOREVER)? {
                Some(frame) => return Ok(frame),
                None if wait == NEVER => return Err(Error::new(op, self.obj(), ErrorKind::WouldBlock)),
                None => {
                    let left = match deadline {
                        Some(d) => {
                            let now = Instant::now();
                            if now >= d {
                                return Err(Error::new(op, self.obj(), ErrorKind::TimedOut));
                            }
                            Some(d - now)
                        }
                        None => None,
                    };
                    match sys::pipe::poll(self.sock.as_fd(), false, left) {
                        Ok(_) | Err(Errno::EINTR) => {}
                        Err(e) => return Err(sock_error("poll", self.obj(), e)),
                    }
                }
            }
        }
    }

    /// Receives one frame into `buf`, waiting as long as it takes; returns its length.
    /// No allocation: the frame's bytes go straight from the socket into `buf`.
    ///
    /// A frame longer than `buf` is not consumed: the call fails with
    /// [`ErrorKind::MessageTooLarge`] (saying its length) and the frame waits for a
    /// larger buffer or [`recv`](Self::recv).
    pub fn recv_into(&mut self, buf: &mut [u8]) -> Result<usize> {
        let op = "frame recv";
        self.check_broken(op)?;
        if self.rx.body.is_some() {
            // A frame partly received by an earlier non-blocking call: finish it.
            let frame = self.recv()?;
            return self.place(op, frame, buf);
        }
        let fd = self.sock.as_fd();
        while self.rx.header_have < FRAME_HEADER {
            let have = self.rx.header_have;
            match raw::recv(fd, &mut self.rx.header[have..], false) {
                Ok(0) => return Err(self.closed(op)),
                Ok(n) => self.rx.header_have += n,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(sock_error("recv", self.obj(), e)),
            }
        }
        let len = u32::from_le_bytes(self.rx.header) as usize;
        if len > self.max_frame {
            // Let the common path refuse it (and mark the stream).
            return self.recv().map(drop).and(Ok(0));
        }
        if len > buf.len() {
            return Err(Error::new(op, self.obj(), ErrorKind::MessageTooLarge).with_detail(format!(
                "the next frame holds {len} bytes, more than the buffer's {}",
                buf.len()
            )));
        }
        let mut have = 0;
        while have < len {
            match raw::recv(fd, &mut buf[have..len], false) {
                Ok(0) => {
                    let why = format!(
                        "the peer closed the connection in the middle of a frame: {have} of {len} bytes arrived"
                    );
                    self.broken = Some(why.clone());
                    return Err(Error::new(op, self.obj(), ErrorKind::Disconnected).with_detail(why));
                }
                Ok(n) => have += n,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(sock_error("recv", self.obj(), e)),
            }
        }
        self.rx.header_have = 0;
        Ok(len)
    }

    fn place(&self, op: &'static str, frame: Vec<u8>, buf: &mut [u8]) -> Result<usize> {
        if frame.len() > buf.len() {
            return Err(Error::new(op, self.obj(), ErrorKind::MessageTooLarge).with_detail(format!(
                "a frame of {} bytes does not fit the buffer's {}; it was dropped",
                frame.len(),
                buf.len()
            )));
        }
        buf[..frame.len()].copy_from_slice(&frame);
        Ok(frame.len())
    }

    /// Reads what is there of the current frame; `Ok(None)` when the socket ran dry
    /// first (only with `dontwait`).
    fn step(&mut self, op: &'static str, dontwait: bool) -> Result<Option<Vec<u8>>> {
        let fd = self.sock.as_fd();
        while self.rx.header_have < FRAME_HEADER {
            let have = self.rx.header_have;
            match raw::recv(fd, &mut self.rx.header[have..], dontwait) {
                Ok(0) => return Err(self.closed(op)),
                Ok(n) => self.rx.header_have += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) if dontwait => return Ok(None),
                Err(e) => return Err(sock_error("recv", self.obj(), e)),
            }
        }
        if self.rx.body.is_none() {
            let len = u32::from_le_bytes(self.rx.header) as usize;
            if len > self.max_frame {
                let why = format!(
                    "a frame length of {len} bytes exceeds the maximum frame of {} bytes (refused before allocating)",
                    self.max_frame
                );
                self.broken = Some(why.clone());
                return Err(Error::new(op, self.obj(), ErrorKind::MessageTooLarge).with_detail(why));
            }
            self.rx.body = Some(vec![0u8; len]);
            self.rx.body_have = 0;
        }
        let body = self.rx.body.as_mut().expect("set above");
        while self.rx.body_have < body.len() {
            match raw::recv(fd, &mut body[self.rx.body_have..], dontwait) {
                Ok(0) => return Err(self.closed(op)),
                Ok(n) => self.rx.body_have += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) if dontwait => return Ok(None),
                Err(e) => return Err(sock_error("recv", self.obj(), e)),
            }
        }
        let frame = self.rx.body.take().expect("set above");
        self.rx.header_have = 0;
        self.rx.body_have = 0;
        Ok(Some(frame))
    }

    fn closed(&mut self, op: &'static str) -> Error {
        let err = Error::new(op, self.obj(), ErrorKind::Disconnected);
        if self.rx.header_have == 0 {
            return err.with_detail("the peer closed the connection");
        }
        let why = match &self.rx.body {
            None => format!(
                "the peer closed the connection in the middle of a frame header ({} of 4 bytes)",
                self.rx.header_have
            ),
            Some(b) => format!(
                "the peer closed the connection in the middle of a frame: {} of {} bytes arrived",
                self.rx.body_have,
                b.len()
            ),
        };
        self.broken = Some(why.clone());
        err.with_detail(why)
    }

    /// Sends a plain-old-data value as one frame (its bytes, native byte order).
    pub fn send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<()> {
        self.send(bytemuck::bytes_of(value))
    }

    /// Receives a plain-old-data value; [`ErrorKind::Corrupted`] if the frame's size is
    /// not the value's.
    pub fn recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T> {
        self.recv_pod_with(FOREVER)
    }

    /// [`recv_pod`](Self::recv_pod) within `wait`.
    pub fn recv_pod_with<T: bytemuck::Pod>(&mut self, wait: Wait) -> Result<T> {
        let frame = self.recv_with(wait)?;
        if frame.len() != size_of::<T>() {
            return Err(Error::new("frame recv", self.obj(), ErrorKind::Corrupted).with_detail(format!(
                "a frame of {} bytes cannot be a value of {} bytes",
                frame.len(),
                size_of::<T>()
            )));
        }
        Ok(bytemuck::pod_read_unaligned(&frame))
    }

    /// Sends any `serde` value as one frame, serialized with postcard.
    #[cfg(feature = "serde")]
    pub fn send_value<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let bytes = postcard::to_stdvec(value)
            .map_err(|e| Error::new("frame send", self.obj(), ErrorKind::Codec).with_detail(e.to_string()))?;
        self.send(&bytes)
    }

    /// Receives a `serde` value sent with [`send_value`](Self::send_value).
    #[cfg(feature = "serde")]
    pub fn recv_value<T: serde::de::DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_value_with(FOREVER)
    }

    /// [`recv_value`](Self::recv_value) within `wait`.
    #[cfg(feature = "serde")]
    pub fn recv_value_with<T: serde::de::DeserializeOwned>(&mut self, wait: Wait) -> Result<T> {
        let frame = self.recv_with(wait)?;
        postcard::from_bytes(&frame)
            .map_err(|e| Error::new("frame recv", self.obj(), ErrorKind::Codec).with_detail(e.to_string()))
    }
}

impl<S: FrameSocket> AsFd for Framed<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
