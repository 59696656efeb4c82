//! The descriptors that came with one received message.
//!
//! Contract: [`Fds`] owns every descriptor in it (each is closed when dropped, unless
//! taken out) and keeps them in the order they were sent. Up to [`INLINE_FDS`]
//! descriptors are held inside the value itself, so receiving a message with a few
//! descriptors (the common case: one) allocates nothing; more spill to the heap.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, OwnedFd};

use smallvec::SmallVec;

/// How many descriptors an [`Fds`] holds without allocating.
pub const INLINE_FDS: usize = 4;

/// The descriptors received with one message, in the order sent; each is
/// close-on-exec and closed when dropped.
///
/// Reads like a slice of [`OwnedFd`] (`fds.len()`, `fds[0]`, `fds.iter()`); take the
/// descriptors out with `into_iter()`, [`pop`](Self::pop) or
/// [`into_vec`](Self::into_vec).
#[derive(Default)]
pub struct Fds(SmallVec<[OwnedFd; INLINE_FDS]>);

impl Fds {
    /// No descriptors.
    pub fn new() -> Fds {
        Fds(SmallVec::new())
    }

    pub(crate) fn push(&mut self, fd: OwnedFd) {
        self.0.push(fd);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Takes the last descriptor out.
    pub fn pop(&mut self) -> Option<OwnedFd> {
        self.0.pop()
    }

    /// The descriptors as a `Vec` (allocates when there are any).
    pub fn into_vec(self) -> Vec<OwnedFd> {
        self.0.into_vec()
    }
}

impl Deref for Fds {
    type Target = [OwnedFd];
    fn deref(&self) -> &[OwnedFd] {
        &self.0
    }
}

impl DerefMut for Fds {
    fn deref_mut(&mut self) -> &mut [OwnedFd] {
        &mut self.0
    }
}

impl fmt::Debug for Fds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|fd| fd.as_raw_fd())).finish()
    }
}

impl From<Fds> for Vec<OwnedFd> {
    fn from(fds: Fds) -> Vec<OwnedFd> {
        fds.into_vec()
    }
}

/// An iterator that takes the descriptors out of an [`Fds`], in order.
pub struct FdsIntoIter(smallvec::IntoIter<[OwnedFd; INLINE_FDS]>);

impl Iterator for FdsIntoIter {
    type Item = OwnedFd;
    fn next(&mut self) -> Option<OwnedFd> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for FdsIntoIter {
    fn next_back(&mut self) -> Option<OwnedFd> {
        self.0.next_back()
    }
}

impl ExactSizeIterator for FdsIntoIter {}

impl fmt::Debug for FdsIntoIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdsIntoIter").field("left", &self.0.len()).finish()
    }
}

impl IntoIterator for Fds {
    type Item = OwnedFd;
    type IntoIter = FdsIntoIter;
    fn into_iter(self) -> FdsIntoIter {
        FdsIntoIter(self.0.into_iter())
    }
}

impl<'a> IntoIterator for &'a Fds {
    type Item = &'a OwnedFd;
    type IntoIter = std::slice::Iter<'a, OwnedFd>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devnull() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    #[test]
    fn keeps_order_inline_and_spilled() {
        for n in [0, 1, INLINE_FDS, INLINE_FDS + 3] {
            let mut fds = Fds::new();
            let mut raw = Vec::new();
            for _ in 0..n {
                let fd = devnull();
                raw.push(fd.as_raw_fd());
                fds.push(fd);
            }
            assert_eq!(fds.len(), n);
            assert_eq!(fds.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>(), raw);
            assert_eq!(fds.into_iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>(), raw);
        }
    }
}
