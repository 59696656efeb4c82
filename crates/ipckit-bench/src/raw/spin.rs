//! The shared-memory floors: two processes spinning on one cache line, and copying
//! through slots with no framing, checks or wake-ups.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{BenchError, Setup, Side};

use super::{SharedPage, os_err};

/// The floor: two processes spinning on one shared cache line. The parent stores odd
/// numbers, the child even ones; each waits for the other's next value. No payload.
pub(crate) struct SpinLine {
    page: SharedPage,
}

impl SpinLine {
    pub(crate) fn new() -> Result<SpinLine, BenchError> {
        Ok(SpinLine { page: SharedPage::new()? })
    }
}

struct SpinSide {
    word: *const AtomicU64,
    next: u64,
}

const SPIN_STOP: u64 = u64::MAX;

impl Side for SpinSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        // SAFETY: the word lives in the shared page, mapped until the process ends.
        let w = unsafe { &*self.word };
        w.store(if data[0] == crate::STOP { SPIN_STOP } else { self.next }, Ordering::Release);
        self.next += 1;
        Ok(())
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        // SAFETY: as in `send`.
        let w = unsafe { &*self.word };
        let mut polls = 0u32;
        loop {
            let v = w.load(Ordering::Acquire);
            if v == self.next || v == SPIN_STOP {
                data[0] = if v == SPIN_STOP { crate::STOP } else { 0 };
                self.next += 1;
                return Ok(());
            }
            polls = polls.wrapping_add(1);
            if polls % 4096 == 0 {
                std::thread::yield_now(); // as the channel's spin mode does
            }
            std::hint::spin_loop();
        }
    }
}

impl Setup for SpinLine {
    fn side(&mut self, _parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let word: *const AtomicU64 = self.page.word(0);
        // The parent sends 1 and expects 2; the child expects 1 and sends 2.
        Ok(Box::new(SpinSide { word, next: 1 }))
    }
}

/// The floor for a message of `size` bytes: the same ping-pong as [`SpinLine`], with
/// the payload copied through shared memory. Per direction, slots of one sequence
/// word followed by the payload, each on a 128-byte boundary: the writer copies the
/// payload in, then stores the sequence number (Release); the reader spins on it
/// (Acquire), then copies out. No framing, no checks, no wake-ups. With one slot per
/// direction (`spin-copy`) the same lines bounce between the two CPUs; with a ring of
/// slots (`spin-ring`) each message lands in the next slot, as in any ring.
pub(crate) struct SpinCopy {
    mem: *mut u8,
    len: usize,
    slot: usize,
    slots: usize,
}

impl SpinCopy {
    /// Slots for `size`-byte messages filling `ring` bytes per direction (at least one).
    pub(crate) fn new(size: usize, ring: usize) -> Result<SpinCopy, BenchError> {
        let slot = (8 + size).div_ceil(128) * 128;
        let slots = (ring / slot).max(1);
        let len = 2 * slot * slots;
        // SAFETY: a fresh anonymous shared mapping at an address the kernel picks.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(os_err("mmap"));
        }
        Ok(SpinCopy { mem: p.cast(), len, slot, slots })
    }
}

impl Drop for SpinCopy {
    fn drop(&mut self) {
        // SAFETY: our mapping; the children that used it have exited.
        unsafe { libc::munmap(self.mem.cast(), self.len) };
    }
}

struct SpinCopySide {
    out: *mut u8,
    inp: *mut u8,
    slot: usize,
    slots: usize,
    sent: u64,
    seen: u64,
}

impl Side for SpinCopySide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        let at = (self.sent as usize % self.slots) * self.slot;
        self.sent += 1;
        // SAFETY: slot `at` holds a sequence word and `size` payload bytes
        // (data.len() == size); the reader reads it only after the Release below, and
        // (ping-pong) we write a slot again only after the reader answered.
        unsafe {
            let s = self.out.add(at);
            std::ptr::copy_nonoverlapping(data.as_ptr(), s.add(8), data.len());
            (*s.cast::<AtomicU64>()).store(self.sent, Ordering::Release);
        }
        Ok(())
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        let at = (self.seen as usize % self.slots) * self.slot;
        self.seen += 1;
        // SAFETY: the slot's first word is an aligned u64 in the shared mapping.
        let s = unsafe { self.inp.add(at) };
        // SAFETY: as above.
        let word = unsafe { &*s.cast::<AtomicU64>() };
        let mut polls = 0u32;
        while word.load(Ordering::Acquire) != self.seen {
            polls = polls.wrapping_add(1);
            if polls % 4096 == 0 {
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
        // SAFETY: the Acquire above saw the writer's Release; the payload is complete,
        // and the writer does not touch the slot until we answer.
        unsafe { std::ptr::copy_nonoverlapping(s.add(8), data.as_mut_ptr(), data.len()) };
        Ok(())
    }
}

impl Setup for SpinCopy {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let half = self.slot * self.slots;
        let a = self.mem;
        // SAFETY: the mapping holds two halves of `half` bytes.
        let b = unsafe { self.mem.add(half) };
        let (out, inp) = if parent { (a, b) } else { (b, a) };
        Ok(Box::new(SpinCopySide { out, inp, slot: self.slot, slots: self.slots, sent: 0, seen: 0 }))
    }
}
