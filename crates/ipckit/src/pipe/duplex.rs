//! Two simplex pipes make a duplex channel.

use std::io::{self, IoSlice, Read, Write};

use super::{PipeReader, PipeWriter, pipe};
use crate::error::Result;

/// One side of a duplex channel made of two pipes: it reads what the other side
/// writes, and writes what the other side reads.
///
/// Made by [`duplex`]; usable across `fork` ([`fork_duplex`](super::fork_duplex)) and
/// as a child's stdin and stdout ([`spawn_duplex`](super::spawn_duplex)). Each
/// direction is an ordinary pipe: end-of-file arrives in one direction when the other
/// side closes its writer ([`into_parts`](Self::into_parts), then drop the writer),
/// while the other direction stays open.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use ipckit::pipe;
///
/// let (mut near, far) = pipe::duplex()?;
/// let echo = std::thread::spawn(move || -> std::io::Result<()> {
///     let (reader, mut writer) = far.into_parts();
///     for line in BufReader::new(reader).lines() {
///         writeln!(writer, "echo: {}", line?)?;
///     }
///     Ok(())
/// });
/// writeln!(near, "hello")?;
/// let (reader, writer) = near.into_parts();
/// drop(writer); // end-of-file for the echo side, which then ends and closes its writer
/// let lines: Vec<String> = BufReader::new(reader).lines().collect::<Result<_, _>>()?;
/// assert_eq!(lines, ["echo: hello"]);
/// echo.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Duplex {
    reader: PipeReader,
    writer: PipeWriter,
}

/// `pipe2` twice—Creates a duplex channel from two pipes and returns its two sides.
///
/// Whatever one side writes, the other reads. All four descriptors are
/// close-on-exec.
///
/// References: [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html).
pub fn duplex() -> Result<(Duplex, Duplex)> {
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    Ok((Duplex { reader: r1, writer: w2 }, Duplex { reader: r2, writer: w1 }))
}

impl Duplex {
    /// A duplex side from a reader and a writer (of two different pipes).
    pub fn from_parts(reader: PipeReader, writer: PipeWriter) -> Duplex {
        Duplex { reader, writer }
    }

    /// The end this side reads from.
    pub fn reader(&self) -> &PipeReader {
        &self.reader
    }

    /// The end this side writes to.
    pub fn writer(&self) -> &PipeWriter {
        &self.writer
    }

    /// The two ends, to use (or close) separately.
    pub fn into_parts(self) -> (PipeReader, PipeWriter) {
        (self.reader, self.writer)
    }

    /// Writes a frame of at most [`PIPE_BUF`](super::PIPE_BUF) bytes atomically (see
    /// [`PipeWriter::write_atomic`]).
    pub fn write_atomic(&self, frame: &[u8]) -> Result<()> {
        self.writer.write_atomic(frame)
    }
}

impl Read for &Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.reader).read(buf)
    }
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for &Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.writer).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&self.writer).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writer.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
