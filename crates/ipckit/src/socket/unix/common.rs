//! The methods every connected or connectable Unix socket type has, written once as
//! the `unix_common!` macro and expanded in `stream.rs`, `seqpacket.rs` and
//! `datagram.rs` (so it must be declared before them in `mod.rs`).

/// Methods shared by every connected or connectable Unix socket type.
macro_rules! unix_common {
    ($T:ident, $ty:expr, $what:literal) => {
        impl $T {
            #[doc = concat!("Wraps an owned descriptor after checking that it is ", $what)]
            /// (`getsockopt(SO_DOMAIN, SO_TYPE)`); [`ErrorKind::WrongType`] otherwise.
            pub fn from_fd(fd: OwnedFd) -> Result<$T> {
                check_kind(&fd, $ty, $what)?;
                Ok($T { creds: CredsRoom::of(fd.as_fd()), fd })
            }

            /// `getsockname`—This socket's own address.
            #[doc(alias = "getsockname")]
            pub fn local_addr(&self) -> Result<UnixAddr> {
                raw::name(self.fd.as_fd(), false)
                    .map(UnixAddr::from_bytes)
                    .map_err(|e| sock_error("getsockname", self.obj(), e))
            }

            /// `getpeername`—The address of the connected peer.
            #[doc(alias = "getpeername")]
            pub fn peer_addr(&self) -> Result<UnixAddr> {
                raw::name(self.fd.as_fd(), true)
                    .map(UnixAddr::from_bytes)
                    .map_err(|e| sock_error("getpeername", self.obj(), e))
            }

            /// `getsockopt(SOL_SOCKET, SO_PEERCRED)`—The pid, uid and gid of the peer,
            /// as they were when it connected (or when the pair was made).
            ///
            /// References: [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html).
            #[doc(alias = "SO_PEERCRED")]
            pub fn peer_credentials(&self) -> Result<Credentials> {
                raw::peer_cred(self.fd.as_fd())
                    .map(Credentials::from)
                    .map_err(|e| sock_error("getsockopt(SO_PEERCRED)", self.obj(), e))
            }

            /// `getsockopt(SOL_SOCKET, SO_PEERPIDFD)`—A pidfd of the peer process
            /// (Linux 6.5): unlike a pid, it can never name another process later.
            /// `Ok(None)` on kernels without it.
            ///
            /// References: [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html).
            #[doc(alias = "SO_PEERPIDFD")]
            pub fn peer_pidfd(&self) -> Result<Option<OwnedFd>> {
                match raw::peer_pidfd(self.fd.as_fd()) {
                    Ok(fd) => Ok(Some(fd)),
                    Err(Errno::ENOPROTOOPT) => Ok(None),
                    Err(e) => Err(sock_error("getsockopt(SO_PEERPIDFD)", self.obj(), e)),
                }
            }

            /// `setsockopt(SOL_SOCKET, SO_PASSCRED)`—Asks the kernel to attach the
            /// sender's credentials (`SCM_CREDENTIALS`) to every message received, so
            /// that [`Received::credentials`] is filled in.
            #[doc(alias = "SO_PASSCRED")]
            pub fn set_pass_credentials(&self, on: bool) -> Result<()> {
                // Room first, so that no receive meets credentials without room.
                if on {
                    self.creds.set(true);
                }
                raw::set_passcred(self.fd.as_fd(), on)
                    .map_err(|e| sock_error("setsockopt(SO_PASSCRED)", self.obj(), e))?;
                self.creds.set(on);
                Ok(())
            }

            /// `fcntl(F_SETFL, O_NONBLOCK)`—With it, the blocking calls fail with
            /// [`ErrorKind::WouldBlock`]; the `try_*` calls work either way.
            pub fn set_nonblocking(&self, on: bool) -> Result<()> {
                sys::pipe::set_nonblocking(self.fd.as_fd(), on)
                    .map_err(|e| sock_error("fcntl(F_SETFL)", self.obj(), e))
            }

            /// `shutdown(fd, SHUT_WR)`—Tells the peer no more will be sent: it reads
            /// end-of-file once it has read what was sent.
            #[doc(alias = "shutdown")]
            pub fn shutdown_write(&self) -> Result<()> {
                raw::shutdown(self.fd.as_fd(), false, true).map_err(|e| sock_error("shutdown", self.obj(), e))
            }

            /// `fcntl(F_DUPFD_CLOEXEC)`—A second handle on the same socket.
            pub fn try_clone(&self) -> Result<$T> {
                let fd = sys::pipe::dup_cloexec(self.fd.as_fd()).map_err(|e| sock_error("dup", self.obj(), e))?;
                Ok($T { fd, creds: self.creds.clone() })
            }

            /// `send(fd, data, MSG_NOSIGNAL)`—Sends bytes; returns how many the kernel
            /// took (all of them for a packet or datagram). Never raises `SIGPIPE`: a
            /// closed peer is [`ErrorKind::Disconnected`].
            #[inline]
            pub fn send(&self, data: &[u8]) -> Result<usize> {
                loop {
                    match raw::send(self.fd.as_fd(), data, false) {
                        Err(Errno::EINTR) => continue,
                        r => return r.map_err(|e| sock_error("send", self.obj(), e)),
                    }
                }
            }

            /// Like [`send`](Self::send) within `wait`: [`ErrorKind::WouldBlock`] / [`ErrorKind::TimedOut`] if no room came in time.
            pub fn send_with(&self, data: &[u8], wait: Wait) -> Result<usize> {
                with_wait(self.fd.as_fd(), true, wait, |nb| raw::send(self.fd.as_fd(), data, nb))
                    .map_err(|e| sock_error("send", self.obj(), e))
            }

            /// Like [`send`](Self::send) but never waits: [`ErrorKind::WouldBlock`] if the socket is full.
            pub fn try_send(&self, data: &[u8]) -> Result<usize> {
                self.send_with(data, NEVER)
            }

            /// `recv(fd, buf)`—Receives bytes; returns how many. For a stream, 0 means the
            /// peer closed its end (end-of-file); for a packet or datagram, the part of
            /// a longer message that does not fit `buf` is lost (use
            /// [`recv_fds`](Self::recv_fds) to learn that it happened).
            #[inline]
            pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
                loop {
                    match raw::recv(self.fd.as_fd(), buf, false) {
                        Err(Errno::EINTR) => continue,
                        r => return r.map_err(|e| sock_error("recv", self.obj(), e)),
                    }
                }
            }

            /// Like [`recv`](Self::recv) but never waits: [`ErrorKind::WouldBlock`] if nothing is there.
            pub fn try_recv(&self, buf: &mut [u8]) -> Result<usize> {
                self.recv_with(buf, NEVER)
            }

            /// Like [`recv`](Self::recv), waiting at most `timeout` ([`ErrorKind::TimedOut`] then).
            pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
                self.recv_with(buf, Wait::Timeout(timeout))
            }

            /// Like [`recv`](Self::recv), waiting until `deadline` at the latest.
            pub fn recv_deadline(&self, buf: &mut [u8], deadline: Instant) -> Result<usize> {
                self.recv_with(buf, Wait::Deadline(deadline))
            }

            /// [`recv`](Self::recv) within `wait`.
            pub fn recv_with(&self, buf: &mut [u8], wait: Wait) -> Result<usize> {
                with_wait(self.fd.as_fd(), false, wait, |nb| raw::recv(self.fd.as_fd(), buf, nb))
                    .map_err(|e| sock_error("recv", self.obj(), e))
            }

            /// `sendmsg(fd, {data, SCM_RIGHTS fds}, MSG_NOSIGNAL)`—Sends bytes with
            /// descriptors, which the receiver gets as new descriptors of the same open
            /// files. Returns the bytes sent.
            ///
            /// Up to [`MAX_FDS_PER_MESSAGE`] descriptors per message. Descriptors are
            /// in flight until received; each sent one counts against the sender's
            /// `RLIMIT_NOFILE` meanwhile (`ETOOMANYREFS` past it). On a stream, the
            /// descriptors travel with the first byte of `data`, so `data` must not be
            /// empty.
            ///
            /// References: [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
            /// (`SCM_RIGHTS`), [sendmsg(2)](https://man7.org/linux/man-pages/man2/sendmsg.2.html).
            #[doc(alias = "sendmsg")]
            #[doc(alias = "SCM_RIGHTS")]
            pub fn send_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<usize> {
                self.send_fds_with(data, fds, FOREVER)
            }

            /// [`send_fds`](Self::send_fds) within `wait`: [`ErrorKind::WouldBlock`] or
            /// [`ErrorKind::TimedOut`] if no room came in time (nothing was sent).
            pub fn send_fds_with(&self, data: &[u8], fds: &[BorrowedFd<'_>], wait: Wait) -> Result<usize> {
                self.check_fds_out(data, fds)?;
                let bufs = [IoSlice::new(data)];
                with_wait(self.fd.as_fd(), true, wait, |nb| raw::send_msg(self.fd.as_fd(), &bufs, fds, None, None, nb))
                    .map_err(|e| sock_error("sendmsg", self.obj(), e))
            }

            fn check_fds_out(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
                if fds.len() > MAX_FDS_PER_MESSAGE {
                    return Err(Error::new("sendmsg", self.obj(), ErrorKind::LimitExceeded).with_detail(format!(
                        "{} descriptors in one message exceed the kernel's SCM_MAX_FD = {MAX_FDS_PER_MESSAGE}; send them in several messages",
                        fds.len()
                    )));
                }
                if $ty == SockType::Stream && data.is_empty() && !fds.is_empty() {
                    return Err(Error::new("sendmsg", self.obj(), ErrorKind::InvalidInput)
                        .with_detail("a stream carries descriptors only with at least one byte of data"));
                }
                Ok(())
            }

            /// `recvmsg(fd, {buf, control}, MSG_CMSG_CLOEXEC)`—Receives bytes with up to
            /// `max_fds` descriptors (and credentials, if
            /// [`set_pass_credentials`](Self::set_pass_credentials) is on).
            ///
            /// If the message carried more descriptors than `max_fds` (`MSG_CTRUNC`),
            /// the kernel closes the ones that did not fit; this call closes the ones
            /// that did and fails with [`ErrorKind::LimitExceeded`]: no descriptor is
            /// lost silently or leaked. The same happens when this process is out of
            /// descriptors (`RLIMIT_NOFILE`). The bytes of that message are consumed.
            ///
            /// On a stream, a call returns at most the bytes up to the next message that
            /// carries descriptors, so descriptors are never mixed up across messages;
            /// 0 bytes and no descriptors means end-of-file.
            ///
            /// References: [recvmsg(2)](https://man7.org/linux/man-pages/man2/recvmsg.2.html),
            /// [cmsg(3)](https://man7.org/linux/man-pages/man3/cmsg.3.html).
            #[doc(alias = "recvmsg")]
            pub fn recv_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, FOREVER)
            }

            /// Like [`recv_fds`](Self::recv_fds) but never waits: [`ErrorKind::WouldBlock`]
            /// if nothing is there.
            pub fn try_recv_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, NEVER)
            }

            /// Like [`recv_fds`](Self::recv_fds), waiting at most `timeout`.
            pub fn recv_fds_timeout(&self, buf: &mut [u8], max_fds: usize, timeout: Duration) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, Wait::Timeout(timeout))
            }

            /// Like [`recv_fds`](Self::recv_fds), waiting until `deadline` at the latest.
            pub fn recv_fds_deadline(&self, buf: &mut [u8], max_fds: usize, deadline: Instant) -> Result<Received> {
                self.recv_fds_with(buf, max_fds, Wait::Deadline(deadline))
            }

            /// [`recv_fds`](Self::recv_fds) within `wait`.
            pub fn recv_fds_with(&self, buf: &mut [u8], max_fds: usize, wait: Wait) -> Result<Received> {
                recv_fds_on(self.fd.as_fd(), &self.creds, buf, max_fds, wait, false).map(|(r, _)| r)
            }

            /// Sends an ipckit handle (a pipe end, shared memory, a queue, a channel...)
            /// as its descriptor with a tag naming its kind; the receiver rebuilds it
            /// with [`recv_handle`](Self::recv_handle). The handle stays usable here: the
            /// two processes then share the object.
            pub fn send_handle<H: Passable>(&self, handle: &H) -> Result<()> {
                let fd = handle.passed_fd()?;
                let t = handoff::tag(H::KIND);
                let n = self.send_fds(&t, &[fd])?;
                if n < t.len() {
                    self.send_rest(&t[n..])?;
                }
                Ok(())
            }

            /// Receives a handle sent with [`send_handle`](Self::send_handle), as type `H`.
            /// Fails with [`ErrorKind::WrongType`] if the peer sent another kind, or if
            /// the descriptor is not what its tag says (checked with `fstat`, `fstatfs`
            /// or the object's own header); the descriptor is closed then.
            pub fn recv_handle<H: Passable>(&self) -> Result<H> {
                let mut t = [0u8; handoff::HANDLE_TAG];
                let r = self.recv_fds(&mut t, 1)?;
                let mut have = r.len;
                if r.truncated {
                    return Err(Error::new("recv_handle", self.obj(), ErrorKind::Corrupted)
                        .with_detail("the message is longer than a handle's tag; it is not an ipckit handle"));
                }
                if have == 0 && r.fds.is_empty() {
                    return Err(Error::new("recv_handle", self.obj(), ErrorKind::Disconnected)
                        .with_detail("the peer closed the connection"));
                }
                if $ty == SockType::Stream {
                    while have < t.len() {
                        let n = self.recv(&mut t[have..])?;
                        if n == 0 {
                            return Err(Error::new("recv_handle", self.obj(), ErrorKind::Disconnected)
                                .with_detail("the peer closed the connection in the middle of a handle's tag"));
                        }
                        have += n;
                    }
                }
                handoff::finish::<H>(&t[..have], r.fds, self.obj())
            }

            fn send_rest(&self, mut data: &[u8]) -> Result<()> {
                while !data.is_empty() {
                    let n = self.send(data)?;
                    data = &data[n..];
                }
                Ok(())
            }

            fn obj(&self) -> Object {
                obj(self.fd.as_fd())
            }
        }

        fd_wrapper_impls!($T);
    };
}
