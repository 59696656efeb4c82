//! A FIFO as a bridge endpoint: a byte stream cut into messages by a [`Framing`].
//!
//! **Framing.** [`Framing::Line`]: each message is the bytes before a newline (the
//! newline is the delimiter, not part of the message). A line without its newline
//! is not a message yet: the exporter keeps the FIFO open for writing itself (so that
//! writers may come and go without an end-of-file), so there is no end of the stream
//! that would complete it; a writer ends its last line with `\n`. A message that
//! holds a newline cannot be written with this framing, and the importer refuses it.
//! [`Framing::Length`]: each message is a 4-byte **little-endian** length and that
//! many bytes, the format of [`socket::Framed`](crate::socket::Framed).
//!
//! **Exporter** ([`FifoEnd::reader`]). It opens the FIFO for reading and writing
//! (`O_RDWR`: the FIFO never reads end-of-file while the bridge runs, and writers
//! never wait to open it), grows the pipe to `/proc/sys/fs/pipe-max-size`, and reads
//! without removing: `tee(2)` copies what the pipe holds into a private pipe, the
//! frames are cut from the copy and published, and only after the server's
//! acknowledgement are exactly those bytes read out of the FIFO. A frame must fit in
//! the pipe whole to be copied, so the largest message is the pipe's capacity less
//! the frame's length prefix or newline. Writers that write more than `PIPE_BUF`
//! (4096) bytes at once may interleave with each other: one writer, or frames of at
//! most `PIPE_BUF` bytes each written with one `write`.
//!
//! **Importer** ([`FifoEnd::writer`]). It opens the FIFO for writing without
//! blocking: while no process has it open for reading, the message waits (and so
//! does the stream behind it). A frame of at most `PIPE_BUF` bytes is written with
//! one atomic `write`; a larger one may go in pieces while the pipe is full, the
//! rest following as room appears. The importer keeps its end open, so what it
//! wrote stays in the pipe when a reader closes and the next reader gets it.
//!
//! References: [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html),
//! [tee(2)](https://man7.org/linux/man-pages/man2/tee.2.html),
//! [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html) (`PIPE_BUF`,
//! `/proc/sys/fs/pipe-max-size`).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;

use super::LocalMessage;
use super::landing::Landing;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::fifo::Fifo;
use crate::limits::Limit;
use crate::pipe::{PIPE_BUF, PipeOptions, PipeReader, PipeWriter};

/// The largest message the importer writes into a FIFO: 16 MiB, the largest frame
/// [`socket::Framed`](crate::socket::Framed) reads by default.
pub const FIFO_WRITE_MAX: usize = crate::socket::DEFAULT_MAX_FRAME;

/// How much of the pipe a look copies first (all of it when no frame is complete).
const FIRST_LOOK: usize = 64 * 1024;

/// How messages are cut out of a FIFO's bytes: [`Line`](Framing::Line) (a newline ends each
/// message and is not part of it; a line without its newline is not a message yet) or
/// [`Length`](Framing::Length) (a 4-byte little-endian length, then the message, the
/// format of [`socket::Framed`](crate::socket::Framed)).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Framing {
    /// One message per line; the newline is not part of it.
    #[default]
    Line,
    /// A 4-byte little-endian length, then the message.
    Length,
}

impl Framing {
    /// The bytes a frame adds to its message.
    pub fn overhead(self) -> usize {
        match self {
            Framing::Line => 1,
            Framing::Length => 4,
        }
    }

    /// The frame of `body`.
    pub(crate) fn frame(self, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(body.len() + self.overhead());
        match self {
            Framing::Line => {
                f.extend_from_slice(body);
                f.push(b'\n');
            }
            Framing::Length => {
                f.extend_from_slice(&(body.len() as u32).to_le_bytes());
                f.extend_from_slice(body);
            }
        }
        f
    }
}

/// One frame found at the front of the pipe: where its body starts in the copy,
/// the body's length, and the frame's length.
#[derive(Copy, Clone, Debug)]
struct Found {
    start: usize,
    body: usize,
    frame: usize,
}

/// Cuts whole frames out of `bytes` (the front of the pipe). A length above `max`,
/// or a line longer than `max` with no newline in sight, is an error: such a frame
/// can never be taken whole.
fn cut(framing: Framing, bytes: &[u8], max: usize) -> std::result::Result<Vec<Found>, usize> {
    let mut out = Vec::new();
    let mut at = 0;
    match framing {
        Framing::Length => {
            while let Some(h) = bytes.get(at..at + 4) {
                let len = u32::from_le_bytes(h.try_into().expect("4 bytes")) as usize;
                if len > max {
                    return Err(len);
                }
                if at + 4 + len > bytes.len() {
                    break;
                }
                out.push(Found { start: at + 4, body: len, frame: 4 + len });
                at += 4 + len;
            }
        }
        Framing::Line => {
            while let Some(nl) = bytes[at..].iter().position(|&b| b == b'\n') {
                out.push(Found { start: at, body: nl, frame: nl + 1 });
                at += nl + 1;
            }
            if bytes.len() - at > max {
                return Err(bytes.len() - at);
            }
        }
    }
    Ok(out)
}

/// The reading side: the FIFO (read-write), a private pipe for `tee`, and the frames
/// of the last look.
#[derive(Debug)]
struct ReadSide {
    reader: PipeReader,
    _keep: PipeWriter,
    scratch_r: PipeReader,
    scratch_w: PipeWriter,
    capacity: usize,
    copy: Vec<u8>,
    frames: VecDeque<Found>,
}

/// The writing side: the end once a reader is there, and a frame partly written.
#[derive(Debug, Default)]
struct WriteSide {
    writer: Option<PipeWriter>,
    pending: Vec<u8>,
    written: usize,
}

#[derive(Debug)]
enum Side {
    Read(Box<ReadSide>),
    Write(WriteSide),
}

/// A FIFO that a bridge reads messages from ([`reader`](Self::reader)) or writes
/// them into ([`writer`](Self::writer)), cut into messages by a [`Framing`].
///
/// The reader (exporter) holds the FIFO open for reading and writing, so writers
/// come and go without an end-of-file; it copies the pipe with `tee(2)` and removes
/// frames only after the server has them. A frame must fit in the pipe whole (the
/// pipe is grown to `/proc/sys/fs/pipe-max-size`). The writer (importer) waits while
/// no process has the FIFO open for reading, and writes a frame of at most
/// `PIPE_BUF` bytes in one atomic `write`. See the [bridge module docs](super) for
/// the delivery guarantees.
#[derive(Debug)]
pub struct FifoEnd {
    fifo: Fifo,
    framing: Framing,
    side: Mutex<Side>,
}

impl FifoEnd {
    /// The exporter's end: opens `fifo` for reading and writing (`O_RDWR`) and grows
    /// its pipe to `/proc/sys/fs/pipe-max-size` (or as far as the kernel allows).
    pub fn reader(fifo: Fifo, framing: Framing) -> Result<FifoEnd> {
        let (reader, keep) = fifo.open_read_write()?;
        reader.set_nonblocking(true)?;
        let want = Limit::PipeMaxSize.current().unwrap_or(1 << 20).min(1 << 30) as usize;
        let capacity = match reader.set_capacity(want) {
            Ok(c) => c,
            Err(_) => reader.capacity()?,
        };
        let (scratch_r, scratch_w) = PipeOptions::new().nonblocking(true).capacity(capacity).create()?;
        if scratch_w.capacity()? < capacity {
            return Err(Error::new(
                "bridge",
                Object::Path(fifo.path().to_path_buf()),
                ErrorKind::LimitExceeded,
            )
            .with_detail(format!(
                "a private pipe of {capacity} bytes, the FIFO's capacity, could not be made \
                     (/proc/sys/fs/pipe-user-pages-soft)"
            )));
        }
        let side = ReadSide {
            reader,
            _keep: keep,
            scratch_r,
            scratch_w,
            capacity,
            copy: Vec::new(),
            frames: VecDeque::new(),
        };
        Ok(FifoEnd { fifo, framing, side: Mutex::new(Side::Read(Box::new(side))) })
    }

    /// A duplicate of the exporter's descriptor of the FIFO, readable when bytes
    /// come in; `None` for the importer's end.
    pub(crate) fn arrivals(&self) -> Option<std::io::Result<std::os::fd::OwnedFd>> {
        match &*self.side.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Side::Read(r) => Some(r.reader.as_fd().try_clone_to_owned()),
            Side::Write(_) => None,
        }
    }

    /// The importer's end: the FIFO is opened for writing when a reader is there.
    pub fn writer(fifo: Fifo, framing: Framing) -> FifoEnd {
        FifoEnd { fifo, framing, side: Mutex::new(Side::Write(WriteSide::default())) }
    }

    /// The framing.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The FIFO's path.
    pub fn path(&self) -> &std::path::Path {
        self.fifo.path()
    }

    pub(crate) fn object(&self) -> Object {
        Object::Path(self.fifo.path().to_path_buf())
    }

    fn side(&self) -> std::sync::MutexGuard<'_, Side> {
        self.side.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn what(&self) -> &'static str {
        match self.framing {
            Framing::Line => "newline",
            Framing::Length => "4-byte length prefix",
        }
    }

    /// The largest message, and the limit that sets it.
    pub(crate) fn max_body(&self) -> (usize, String) {
        match &*self.side() {
            Side::Read(r) => {
                let max = r.capacity - self.framing.overhead();
                (
                    max,
                    format!(
                        "{max} bytes (the FIFO's pipe capacity of {} bytes less the {}; \
                         /proc/sys/fs/pipe-max-size)",
                        r.capacity,
                        self.what()
                    ),
                )
            }
            Side::Write(_) => {
                (FIFO_WRITE_MAX, format!("{FIFO_WRITE_MAX} bytes (the largest frame the bridge writes)"))
            }
        }
    }

    pub(crate) fn is_reader(&self) -> bool {
        matches!(&*self.side(), Side::Read(_))
    }

    /// The message at `index` (0: the next one out of the FIFO), without removing it.
    pub(crate) fn peek(&self, index: usize) -> Result<Option<LocalMessage>> {
        let mut side = self.side();
        let Side::Read(r) = &mut *side else { return Err(self.wrong_side("read")) };
        if index >= r.frames.len() {
            self.look(r)?;
        }
        Ok(r.frames
            .get(index)
            .map(|f| LocalMessage { tag: 0, body: r.copy[f.start..f.start + f.body].to_vec() }))
    }

    /// Copies the front of the pipe (`tee`) and cuts it into frames.
    fn look(&self, r: &mut ReadSide) -> Result<()> {
        r.frames.clear();
        let max = r.capacity - self.framing.overhead();
        let mut len = FIRST_LOOK.min(r.capacity);
        loop {
            let n = match r.reader.tee_to(&r.scratch_w, len) {
                Ok(n) => n,
                Err(e) if e.is_not_now() => 0,
                Err(e) => return Err(e),
            };
            r.copy.clear();
            r.copy.resize(n, 0);
            let mut got = 0;
            while got < n {
                match (&r.scratch_r).read(&mut r.copy[got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(Error::new("read", self.object(), ErrorKind::Other)
                            .with_detail(format!("reading the tee'd copy of the FIFO: {e}")));
                    }
                }
            }
            if got != n {
                return Err(Error::new("read", self.object(), ErrorKind::Other)
                    .with_detail(format!("tee copied {n} bytes of the FIFO, {got} came out of the copy")));
            }
            // Only a look at the whole pipe can say that a frame is too large.
            let whole = len >= r.capacity || n < len;
            let found = match cut(self.framing, &r.copy, if whole { max } else { usize::MAX }) {
                Ok(f) => f,
                Err(big) => {
                    return Err(Error::new("bridge read", self.object(), ErrorKind::LimitExceeded).with_detail(
                        format!(
                            "a message of {big} bytes or more is in the FIFO ({} framing): the bridge takes \
                             messages of up to {max} bytes (the FIFO's pipe capacity of {} bytes less the {}; \
                             /proc/sys/fs/pipe-max-size), as a frame must fit in the pipe whole",
                            match self.framing {
                                Framing::Line => "line",
                                Framing::Length => "length",
                            },
                            r.capacity,
                            self.what()
                        ),
                    ));
                }
            };
            if found.is_empty() && !whole {
                len = r.capacity;
                continue;
            }
            r.frames = found.into();
            return Ok(());
        }
    }

    /// Reads the next frame out of the FIFO (the one [`peek`](Self::peek)`(0)` shows)
    /// into `landing` (see `landing.rs`) and returns its message.
    pub(crate) fn remove_next(&self, landing: &mut Landing) -> Result<Option<LocalMessage>> {
        let mut side = self.side();
        let Side::Read(r) = &mut *side else { return Err(self.wrong_side("read")) };
        if r.frames.is_empty() {
            self.look(r)?;
        }
        let Some(f) = r.frames.pop_front() else { return Ok(None) };
        // The frame is in the pipe whole (the look copied it), and this process is its
        // only reader: one read takes exactly it.
        let bytes = landing.read_from(r.reader.as_fd(), f.frame)?;
        let n = bytes.len();
        let start = f.start - (f.frame - f.body) * usize::from(self.framing == Framing::Length);
        let seen = &r.copy[start..start + f.frame];
        if n != f.frame || bytes != seen {
            r.frames.clear();
            return Err(Error::new("bridge read", self.object(), ErrorKind::Corrupted).with_detail(format!(
                "the FIFO gave {n} bytes that differ from the {} bytes of the frame published: another \
                 process reads this FIFO, and the bridge must be its only reader",
                f.frame
            )));
        }
        let body = match self.framing {
            Framing::Line => bytes[..f.body].to_vec(),
            Framing::Length => bytes[4..].to_vec(),
        };
        Ok(Some(LocalMessage { tag: 0, body }))
    }

    /// The first byte of `msg`'s frame (for [`Landing::clear_unlike`]).
    pub(crate) fn frame_start(&self, msg: &LocalMessage) -> u8 {
        match self.framing {
            Framing::Line => msg.body.first().copied().unwrap_or(b'\n'),
            Framing::Length => (msg.body.len() as u32).to_le_bytes()[0],
        }
    }

    /// The body of a frame of a `len`-byte body that landed whole in `landing`, if
    /// one did.
    pub(crate) fn landed_body(&self, landing: &Landing, len: usize) -> Option<Vec<u8>> {
        let frame = landing.contents(len + self.framing.overhead())?;
        match self.framing {
            Framing::Line => (frame[len] == b'\n').then(|| frame[..len].to_vec()),
            Framing::Length => {
                (u32::try_from(len).ok()?.to_le_bytes() == frame[..4]).then(|| frame[4..].to_vec())
            }
        }
    }

    /// Whether the message can be written with this framing: a newline in a message
    /// is refused under line framing.
    pub(crate) fn check(&self, msg: &LocalMessage) -> Result<()> {
        if self.framing == Framing::Line
            && let Some(at) = msg.body.iter().position(|&b| b == b'\n')
        {
            return Err(Error::new("bridge write", self.object(), ErrorKind::InvalidInput).with_detail(
                format!(
                    "a message of {} bytes holds a newline at byte {at}: line framing cannot carry it \
                 (use length framing)",
                    msg.body.len()
                ),
            ));
        }
        Ok(())
    }

    /// Whether a frame is written in part (a frame larger than `PIPE_BUF`, its rest
    /// waiting for room).
    pub(crate) fn put_begun(&self) -> bool {
        match &*self.side() {
            Side::Write(w) => w.written > 0,
            Side::Read(_) => false,
        }
    }

    /// Writes the message's frame if a reader is there and the pipe has room;
    /// `false` when not now. A frame begun is finished by the next calls (with the
    /// same message) before anything else.
    pub(crate) fn try_put(&self, msg: &LocalMessage) -> Result<bool> {
        self.check(msg)?;
        let mut side = self.side();
        let Side::Write(w) = &mut *side else { return Err(self.wrong_side("write")) };
        if w.writer.is_none() {
            match self.fifo.open_write_nonblocking() {
                Ok(end) => w.writer = Some(end),
                Err(e) if e.kind() == ErrorKind::NoReader || e.is_not_now() => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let end = w.writer.as_ref().expect("opened above");
        if w.pending.is_empty() {
            let frame = self.framing.frame(&msg.body);
            if frame.len() <= PIPE_BUF {
                return match end.write_atomic(&frame) {
                    Ok(()) => Ok(true),
                    Err(e) if e.is_not_now() || e.kind() == ErrorKind::BrokenPipe => Ok(false),
                    Err(e) => Err(e),
                };
            }
            w.pending = frame;
            w.written = 0;
        }
        while w.written < w.pending.len() {
            match (&*end).write(&w.pending[w.written..]) {
                Ok(k) => w.written += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    // Full, or no reader now: the rest waits (the bytes written stay
                    // in the pipe, which this end keeps open).
                    return Ok(false);
                }
                Err(e) => {
                    return Err(
                        Error::new("write", self.object(), ErrorKind::Other).with_detail(e.to_string())
                    );
                }
            }
        }
        w.pending.clear();
        w.written = 0;
        Ok(true)
    }

    fn wrong_side(&self, what: &str) -> Error {
        Error::new("bridge", self.object(), ErrorKind::Unsupported).with_detail(format!(
            "this FIFO end was not opened to {what} (FifoEnd::reader / FifoEnd::writer)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(framing: Framing, bytes: &[u8], max: usize) -> std::result::Result<Vec<Vec<u8>>, usize> {
        Ok(cut(framing, bytes, max)?.iter().map(|f| bytes[f.start..f.start + f.body].to_vec()).collect())
    }

    #[test]
    fn lines_are_cut_at_newlines_and_an_unterminated_line_waits() {
        let got = bodies(Framing::Line, b"one\n\ntwo\nthr", 100).unwrap();
        assert_eq!(got, vec![b"one".to_vec(), b"".to_vec(), b"two".to_vec()]);
        assert_eq!(bodies(Framing::Line, b"no newline yet", 100).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_reported() {
        assert_eq!(bodies(Framing::Line, b"ok\n0123456789", 5), Err(10));
        assert!(bodies(Framing::Line, b"ok\n01234", 5).is_ok());
    }

    #[test]
    fn length_frames_are_little_endian_and_a_partial_one_waits() {
        let mut b = Framing::Length.frame(b"hello");
        b.extend(Framing::Length.frame(b""));
        b.extend(Framing::Length.frame(b"x\ny"));
        assert_eq!(&b[..4], &[5, 0, 0, 0]);
        let whole = bodies(Framing::Length, &b, 100).unwrap();
        assert_eq!(whole, vec![b"hello".to_vec(), b"".to_vec(), b"x\ny".to_vec()]);
        let part = bodies(Framing::Length, &b[..b.len() - 1], 100).unwrap();
        assert_eq!(part.len(), 2);
        assert_eq!(bodies(Framing::Length, &b[..3], 100).unwrap().len(), 0);
    }

    #[test]
    fn a_length_above_the_limit_is_reported_before_its_bytes_arrive() {
        let b = 70_000u32.to_le_bytes();
        assert_eq!(bodies(Framing::Length, &b, 65_532), Err(70_000));
    }

    #[test]
    fn line_frames_end_with_a_newline() {
        assert_eq!(Framing::Line.frame(b"abc"), b"abc\n");
        assert_eq!(Framing::Line.overhead(), 1);
        assert_eq!(Framing::Length.overhead(), 4);
    }
}
