//! The descriptor conversions every ipckit type that owns one descriptor has.
//!
//! `fd_wrapper_impls!(T)` gives a type `T` with a field `fd: OwnedFd` and a checking
//! constructor `T::from_fd(OwnedFd) -> Result<T>` its `Debug` (the descriptor number),
//! `AsFd`, `AsRawFd`, `IntoRawFd`, `From<T> for OwnedFd` and `TryFrom<OwnedFd>` (which
//! goes through `from_fd`, so a descriptor of the wrong kind is refused). Pipe ends and
//! Unix sockets use it, so the conversions read the same everywhere.

macro_rules! fd_wrapper_impls {
    ($T:ident) => {
        impl ::std::fmt::Debug for $T {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($T))
                    .field("fd", &::std::os::fd::AsRawFd::as_raw_fd(&self.fd))
                    .finish()
            }
        }

        impl ::std::os::fd::AsFd for $T {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(&self.fd)
            }
        }

        impl ::std::os::fd::AsRawFd for $T {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(&self.fd)
            }
        }

        impl ::std::os::fd::IntoRawFd for $T {
            fn into_raw_fd(self) -> ::std::os::fd::RawFd {
                ::std::os::fd::IntoRawFd::into_raw_fd(self.fd)
            }
        }

        impl From<$T> for ::std::os::fd::OwnedFd {
            fn from(x: $T) -> ::std::os::fd::OwnedFd {
                x.fd
            }
        }

        impl TryFrom<::std::os::fd::OwnedFd> for $T {
            type Error = $crate::Error;

            fn try_from(fd: ::std::os::fd::OwnedFd) -> $crate::Result<$T> {
                $T::from_fd(fd)
            }
        }
    };
}
