//! [`ChannelConfig`]: the size of a new channel, as asked for.
//!
//! A config only records the request. [`Channel`](super::Channel)'s constructors turn
//! it into a checked [`Geometry`] (power-of-two ring, largest message, record
//! alignment) once, at creation; after that the geometry is never read back from
//! shared memory except through `layout::validate` when another process opens it.

use crate::error::{Error, ErrorKind, Object, Result};

use super::super::layout::Geometry;

/// The default record alignment (see [`ChannelConfig::with_record_align`]).
const DEFAULT_RECORD_ALIGN: usize = 128;

/// The size of a new channel.
///
/// ```
/// use ipckit::channel::ChannelConfig;
/// let c = ChannelConfig::new().with_capacity(1 << 20).with_max_message(4096);
/// assert_eq!(c.capacity(), 1 << 20);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    capacity: usize,
    max_message: usize,
    record_align: usize,
}

impl Default for ChannelConfig {
    /// A 64 KiB ring; messages up to half of it.
    fn default() -> ChannelConfig {
        ChannelConfig { capacity: 64 * 1024, max_message: 0, record_align: DEFAULT_RECORD_ALIGN }
    }
}

impl ChannelConfig {
    /// The default: a 64 KiB ring, messages up to about 32 KiB.
    pub fn new() -> ChannelConfig {
        ChannelConfig::default()
    }

    /// The ring's size in bytes; rounded up to a power of two (at least 1024), and
    /// grown if needed to hold two messages of the largest size.
    pub fn with_capacity(mut self, bytes: usize) -> ChannelConfig {
        self.capacity = bytes;
        self
    }

    /// The largest message in bytes; 0 (the default) means "half the ring, less a
    /// record header".
    pub fn with_max_message(mut self, bytes: usize) -> ChannelConfig {
        self.max_message = bytes;
        self
    }

    /// Where records start in the ring: at multiples of `bytes`, a power of two from
    /// 16 to 4096 (default: 128). A message of up to `bytes - 16` bytes then lies in one
    /// aligned block, which the receiver's core fetches in one transfer: 128 (two cache
    /// lines, as processors prefetch them in pairs) is the fastest for small messages;
    /// 16 packs small messages four to eight times denser.
    pub fn with_record_align(mut self, bytes: usize) -> ChannelConfig {
        self.record_align = bytes;
        self
    }

    /// The record alignment.
    pub fn record_align(&self) -> usize {
        self.record_align
    }

    /// The requested ring size.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The requested largest message (0: automatic).
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    pub(super) fn geometry(&self, op: &'static str, obj: &Object) -> Result<Geometry> {
        Geometry::for_request(self.capacity as u64, self.max_message as u64, self.record_align as u64)
            .map_err(|why| Error::new(op, obj.clone(), ErrorKind::InvalidInput).with_detail(why))
    }
}
