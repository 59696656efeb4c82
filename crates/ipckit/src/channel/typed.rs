//! Typed ends: a channel of plain-old-data values of one type `T`, with typed loans
//! (reserve room for a `T` in the ring, write it in place, publish).
//!
//! ```
//! use ipckit::channel::{Channel, ChannelConfig, TypedReceiver, TypedSender};
//!
//! #[derive(Copy, Clone, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
//! #[repr(C)]
//! struct Tick { seq: u64, price: f64 }
//!
//! let chan = Channel::create_memfd(&ChannelConfig::new())?;
//! let mut tx = TypedSender::<Tick>::new(chan.sender()?)?;
//! let mut rx = TypedReceiver::<Tick>::new(chan.receiver()?)?;
//! let mut loan = tx.loan_uninit()?;
//! loan.write(Tick { seq: 1, price: 9.5 });
//! loan.publish();
//! tx.send(&Tick { seq: 2, price: 9.75 })?;
//! assert_eq!(rx.recv()?, Tick { seq: 1, price: 9.5 });
//! assert_eq!(rx.recv_in_place()?.read(), Tick { seq: 2, price: 9.75 });
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! A `T` is [`bytemuck::Pod`]: every bit pattern is a valid value, so whatever the
//! other process writes, a received `T` is a `T` (perhaps a wrong one, never undefined
//! behaviour). Values are copied out ([`TypedReceiver::recv`],
//! [`TypedGuard::read`]); a reference into the ring is `unsafe`, as for bytes. A
//! message of another size is a [`Codec`](crate::ErrorKind::Codec) error and stays
//! in the channel. Payloads start at multiples of 16 bytes in the ring, so `T` may
//! need an alignment of up to 16.

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use super::endpoint::{Receiver, RecvGuard, SendLoan, Sender};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::wait::Wait;

/// The largest alignment a typed payload gets in the ring.
const PAYLOAD_ALIGN: usize = 16;

fn check_type<T>(op: &'static str, max_message: usize, obj: impl FnOnce() -> Object) -> Result<()> {
    let (size, align) = (std::mem::size_of::<T>(), std::mem::align_of::<T>());
    if align > PAYLOAD_ALIGN {
        return Err(Error::new(op, obj(), ErrorKind::InvalidInput).with_detail(format!(
            "{} needs an alignment of {align}; payloads in the ring are aligned to {PAYLOAD_ALIGN}",
            std::any::type_name::<T>()
        )));
    }
    if size > max_message {
        return Err(Error::new(op, obj(), ErrorKind::MessageTooLarge).with_detail(format!(
            "a {} has {size} bytes, the channel's largest message {max_message}",
            std::any::type_name::<T>()
        )));
    }
    Ok(())
}

/// "Not now" for a call that waited as `wait` says.
fn not_now(op: &'static str, wait: Wait) -> Error {
    let kind = if wait == Wait::NoWait { ErrorKind::WouldBlock } else { ErrorKind::TimedOut };
    Error::new(op, Object::None, kind)
}

/// A "not now" from the byte API, named for the typed call that saw it.
fn rename(e: Error, op: &'static str, wait: Wait) -> Error {
    if e.is_not_now() { not_now(op, wait) } else { e }
}

fn deadline_of(timeout: Duration) -> Wait {
    match Instant::now().checked_add(timeout) {
        Some(d) => Wait::Deadline(d),
        None => Wait::Block,
    }
}

/// The sending end of a channel of `T`s.
pub struct TypedSender<T: bytemuck::Pod> {
    tx: Sender,
    _t: PhantomData<fn(T)>,
}

impl<T: bytemuck::Pod> fmt::Debug for TypedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedSender")
            .field("type", &std::any::type_name::<T>())
            .field("sender", &self.tx)
            .finish()
    }
}

impl<T: bytemuck::Pod> TypedSender<T> {
    /// Sends `T`s through `tx`. Fails if a `T` does not fit a message of the channel,
    /// or needs an alignment above 16.
    pub fn new(tx: Sender) -> Result<TypedSender<T>> {
        check_type::<T>("TypedSender::new", tx.max_message(), || tx.object())?;
        Ok(TypedSender { tx, _t: PhantomData })
    }

    /// Sends a copy of `value`, waiting for room.
    pub fn send(&mut self, value: &T) -> Result<()> {
        self.tx.send(bytemuck::bytes_of(value))
    }

    /// Sends if there is room now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_send(&mut self, value: &T) -> Result<()> {
        self.send_with(value, Wait::NoWait, "TypedSender::try_send")
    }

    /// Sends, waiting at most `timeout`; [`ErrorKind::TimedOut`] if no room came.
    pub fn send_timeout(&mut self, value: &T, timeout: Duration) -> Result<()> {
        self.send_with(value, deadline_of(timeout), "TypedSender::send_timeout")
    }

    /// Sends, waiting until `deadline`; [`ErrorKind::TimedOut`] if no room came.
    pub fn send_deadline(&mut self, value: &T, deadline: Instant) -> Result<()> {
        self.send_with(value, Wait::Deadline(deadline), "TypedSender::send_deadline")
    }

    fn send_with(&mut self, value: &T, wait: Wait, op: &'static str) -> Result<()> {
        self.tx.send_with(bytemuck::bytes_of(value), wait).map_err(|e| rename(e, op, wait))
    }

    /// Reserves room for one `T` in the ring, waiting for it. Write the value in place
    /// and [`publish`](TypedLoan::publish) it; dropping the loan sends nothing.
    pub fn loan_uninit(&mut self) -> Result<TypedLoan<'_, T>> {
        self.loan_with(Wait::Block, "TypedSender::loan_uninit")
    }

    /// Reserves room if there is some now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_loan_uninit(&mut self) -> Result<TypedLoan<'_, T>> {
        self.loan_with(Wait::NoWait, "TypedSender::try_loan_uninit")
    }

    /// Reserves room, waiting at most `timeout`; [`ErrorKind::TimedOut`] if none came.
    pub fn loan_uninit_timeout(&mut self, timeout: Duration) -> Result<TypedLoan<'_, T>> {
        self.loan_with(deadline_of(timeout), "TypedSender::loan_uninit_timeout")
    }

    /// Reserves room, waiting until `deadline`; [`ErrorKind::TimedOut`] if none came.
    pub fn loan_uninit_deadline(&mut self, deadline: Instant) -> Result<TypedLoan<'_, T>> {
        self.loan_with(Wait::Deadline(deadline), "TypedSender::loan_uninit_deadline")
    }

    fn loan_with(&mut self, wait: Wait, op: &'static str) -> Result<TypedLoan<'_, T>> {
        let mut loan = self.tx.loan_with(std::mem::size_of::<T>(), wait).map_err(|e| rename(e, op, wait))?;
        let p = loan.as_mut_ptr();
        if p as usize % std::mem::align_of::<T>() != 0 {
            return Err(Error::new(op, Object::None, ErrorKind::Other).with_detail(format!(
                "the ring gave a payload address {p:p} not aligned for {}",
                std::any::type_name::<T>()
            )));
        }
        Ok(TypedLoan { loan, _t: PhantomData })
    }

    /// The byte-level sender inside.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.tx
    }

    /// Returns the byte-level sender.
    pub fn into_inner(self) -> Sender {
        self.tx
    }
}

/// Room for one `T` in the ring, reserved by [`TypedSender::loan_uninit`].
///
/// The bytes are whatever the ring held (an older message, or zeros): write the value
/// (whole with [`write`](Self::write), or field by field through
/// [`as_mut_ptr`](Self::as_mut_ptr)), then [`publish`](Self::publish). Publishing
/// without writing sends those old bytes — a valid `T`, as `T` is plain old data.
pub struct TypedLoan<'a, T: bytemuck::Pod> {
    loan: SendLoan<'a>,
    _t: PhantomData<fn(T)>,
}

impl<T: bytemuck::Pod> fmt::Debug for TypedLoan<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedLoan")
            .field("type", &std::any::type_name::<T>())
            .field("loan", &self.loan)
            .finish()
    }
}

impl<T: bytemuck::Pod> TypedLoan<'_, T> {
    /// Where the value goes: aligned for `T`, valid until the loan ends. Write through
    /// it with raw-pointer writes (`ptr::write`, `addr_of_mut!((*p).field).write(..)`).
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.loan.as_mut_ptr().cast::<T>()
    }

    /// Writes `value` in place.
    pub fn write(&mut self, value: T) {
        // Checked by `write_at` (the loan holds exactly size_of::<T>() bytes).
        let r = self.loan.write_at(0, bytemuck::bytes_of(&value));
        debug_assert!(r.is_ok());
    }

    /// The value in place as a `&mut T`, for code that fills it field by field.
    ///
    /// # Safety
    /// Until the loan ends, no other process writes these bytes (a cooperating receiver
    /// never does; see [`SendLoan::as_mut_slice`]).
    #[allow(unsafe_code)]
    pub unsafe fn as_mut(&mut self) -> &mut T {
        let p = self.as_mut_ptr();
        // SAFETY: `p` is aligned for T (checked when the loan was made) and valid for
        // size_of::<T>() bytes for the loan's lifetime; any bytes are a valid T (Pod);
        // exclusivity against other processes is the caller's promise.
        unsafe { &mut *p }
    }

    /// Publishes the value.
    pub fn publish(self) {
        self.loan.commit();
    }
}

/// The receiving end of a channel of `T`s.
pub struct TypedReceiver<T: bytemuck::Pod> {
    rx: Receiver,
    _t: PhantomData<fn() -> T>,
}

impl<T: bytemuck::Pod> fmt::Debug for TypedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedReceiver")
            .field("type", &std::any::type_name::<T>())
            .field("receiver", &self.rx)
            .finish()
    }
}

impl<T: bytemuck::Pod> TypedReceiver<T> {
    /// Receives `T`s through `rx`. Fails as [`TypedSender::new`].
    pub fn new(rx: Receiver) -> Result<TypedReceiver<T>> {
        check_type::<T>("TypedReceiver::new", rx.max_message(), || rx.object())?;
        Ok(TypedReceiver { rx, _t: PhantomData })
    }

    /// Receives a value, waiting for one. A message of another size is an
    /// [`ErrorKind::Codec`] error and stays in the channel.
    pub fn recv(&mut self) -> Result<T> {
        self.rx.recv_pod()
    }

    /// Receives a value if one is there; [`ErrorKind::WouldBlock`] if not.
    pub fn try_recv(&mut self) -> Result<T> {
        self.recv_with(Wait::NoWait, "TypedReceiver::try_recv")
    }

    /// Receives, waiting at most `timeout`; [`ErrorKind::TimedOut`] if none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T> {
        self.recv_with(deadline_of(timeout), "TypedReceiver::recv_timeout")
    }

    /// Receives, waiting until `deadline`; [`ErrorKind::TimedOut`] if none came.
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T> {
        self.recv_with(Wait::Deadline(deadline), "TypedReceiver::recv_deadline")
    }

    fn recv_with(&mut self, wait: Wait, op: &'static str) -> Result<T> {
        self.rx.recv_pod_with(wait).map_err(|e| rename(e, op, wait))
    }

    /// Waits for a value and returns a guard that reads it where it lies in the ring;
    /// the message is freed when the guard is dropped.
    pub fn recv_in_place(&mut self) -> Result<TypedGuard<'_, T>> {
        self.guard_with(Wait::Block, "TypedReceiver::recv_in_place")
    }

    /// A guard on the next value if there is one now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_recv_in_place(&mut self) -> Result<TypedGuard<'_, T>> {
        self.guard_with(Wait::NoWait, "TypedReceiver::try_recv_in_place")
    }

    fn guard_with(&mut self, wait: Wait, op: &'static str) -> Result<TypedGuard<'_, T>> {
        let obj = self.rx.object();
        let guard = self.rx.recv_in_place_with(wait).map_err(|e| rename(e, op, wait))?;
        if guard.len() != std::mem::size_of::<T>() {
            let len = guard.len();
            // Forgetting the guard leaves the message in the channel, unread.
            std::mem::forget(guard);
            return Err(Error::new(op, obj, ErrorKind::Codec).with_detail(format!(
                "the next message has {len} bytes, a {} has {}; it stays in the channel",
                std::any::type_name::<T>(),
                std::mem::size_of::<T>()
            )));
        }
        if guard.as_ptr() as usize % std::mem::align_of::<T>() != 0 {
            return Err(
                Error::new(op, obj, ErrorKind::Other).with_detail("the message is not aligned for its type")
            );
        }
        Ok(TypedGuard { guard, _t: PhantomData })
    }

    /// The byte-level receiver inside.
    pub fn receiver(&mut self) -> &mut Receiver {
        &mut self.rx
    }

    /// Returns the byte-level receiver.
    pub fn into_inner(self) -> Receiver {
        self.rx
    }
}

/// A received `T`, read where it lies in the ring; freed when dropped.
pub struct TypedGuard<'a, T: bytemuck::Pod> {
    guard: RecvGuard<'a>,
    _t: PhantomData<fn() -> T>,
}

impl<T: bytemuck::Pod> fmt::Debug for TypedGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedGuard")
            .field("type", &std::any::type_name::<T>())
            .field("guard", &self.guard)
            .finish()
    }
}

impl<T: bytemuck::Pod> TypedGuard<'_, T> {
    /// A copy of the value.
    pub fn read(&self) -> T {
        let mut v = T::zeroed();
        // The guard holds exactly size_of::<T>() bytes (checked when it was made).
        let r = self.guard.read_at(0, bytemuck::bytes_of_mut(&mut v));
        debug_assert!(r.is_ok());
        v
    }

    /// The value in place, aligned for `T`, valid while the guard lives. Read through
    /// it with raw-pointer reads (one field without copying the rest).
    pub fn as_ptr(&self) -> *const T {
        self.guard.as_ptr().cast::<T>()
    }

    /// The value in place as a `&T`.
    ///
    /// # Safety
    /// While the reference lives, no process writes these bytes (a cooperating sender
    /// never does; see [`RecvGuard::as_slice`]).
    #[allow(unsafe_code)]
    pub unsafe fn as_ref(&self) -> &T {
        // SAFETY: the pointer is aligned for T (checked when the guard was made) and
        // valid for size_of::<T>() bytes while the guard lives; any bytes are a valid
        // T (Pod); that no process writes them is the caller's promise.
        unsafe { &*self.as_ptr() }
    }

    /// Frees the message now (dropping the guard does the same).
    pub fn release(self) {}
}
