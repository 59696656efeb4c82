//! The async round trip against its floor: two processes each running a tokio
//! runtime bounce a 64-byte message through a pair of channels
//! (`AsyncSender::send().await`, `AsyncReceiver::recv().await`), against two C
//! processes bouncing an eventfd counter (`write`/`read`, blocking) — the kernel
//! wake-up that both pay. Blocks of each alternate; the medians and the per-round
//! ratios (median, p10-p90) are printed, for the default receive (which parks at
//! once) and for one that first looks for 10 µs (`set_spin`). A third block runs the
//! C ping-pong's eventfds through tokio (`AsyncFd`, await readable then read), no
//! ipckit: what tokio's reactor itself adds to the kernel floor.
//!
//! ```text
//! cargo run --release -p ipckit-unix --features tokio --example channel_async_rtt [ROUND_TRIPS] [ROUNDS] [PIN]
//! ```
//!
//! Both sides are measured alike: two processes from `fork`, the same pinning (`PIN`:
//! `none`, the default, leaves placement to the scheduler; `same` puts both processes
//! on CPU 0; `cross` puts the first on CPU 0 and the second on CPU 1), 100 untimed
//! round trips first (so that the second process has started and set up), then
//! `ROUND_TRIPS` timed ones. On a virtual machine the placement decides the floor: a
//! wake-up across CPUs goes through the hypervisor (tens of µs), one on the same CPU
//! is a context switch (a few µs).
//!
//! Needs a C compiler (`cc`). The goal: ipckit within 1.2× of the bare eventfd.

#[cfg(feature = "tokio")]
use tokio::io::unix::AsyncFd;

#[cfg(feature = "tokio")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::process::Command;
    use std::time::Instant;

    use ipckit::channel::{AsyncReceiver, AsyncSender, Channel, ChannelConfig};

    const C: &str = r#"
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) _exit(2);
}
int main(int argc, char **argv) {
    int n = atoi(argv[1]), warm = 100;
    int a = eventfd(0, 0), b = eventfd(0, 0);
    uint64_t v = 1;
    pid_t p = fork();
    if (p == 0) {
        pin(atoi(argv[3]));
        for (int i = 0; i < warm + n; i++) {
            if (read(a, &v, 8) != 8 || write(b, &v, 8) != 8) _exit(1);
        }
        _exit(0);
    }
    pin(atoi(argv[2]));
    for (int i = 0; i < warm; i++) {
        if (write(a, &v, 8) != 8 || read(b, &v, 8) != 8) return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        if (write(a, &v, 8) != 8 || read(b, &v, 8) != 8) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int status = 1;
    waitpid(p, &status, 0);
    if (status != 0) return 1;
    printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
    return 0;
}
"#;
    let n: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let rounds: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let pin_mode = std::env::args().nth(3).unwrap_or_else(|| "none".into());
    // The CPUs of the first and the second process (-1: not pinned).
    let (cpu_a, cpu_b): (i32, i32) = match pin_mode.as_str() {
        "none" => (-1, -1),
        "same" => (0, 0),
        "cross" => (0, 1),
        other => return Err(format!("PIN is none, same or cross, not {other:?}").into()),
    };
    const WARM: u32 = 100;
    let dir = std::env::temp_dir().join(format!("ipckit-async-rtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("eventfd_pingpong.c");
    let exe = dir.join("eventfd_pingpong");
    std::fs::write(&src, C)?;
    let ok = Command::new("cc").arg("-O2").arg("-o").arg(&exe).arg(&src).status()?.success();
    if !ok {
        return Err("cc failed".into());
    }

    let ipckit_block = |spin: std::time::Duration| -> Result<f64, Box<dyn std::error::Error>> {
        let there = Channel::create_memfd(&ChannelConfig::new())?;
        let back = Channel::create_memfd(&ChannelConfig::new())?;
        // SAFETY: the parent is single-threaded here (its runtime is built after the
        // fork); the child builds its own runtime.
        let child = unsafe {
            ipckit::process::fork_with(|| {
                pin(cpu_b);
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let mut rx = AsyncReceiver::new(there.receiver().unwrap()).unwrap();
                    rx.set_spin(spin);
                    let mut tx = AsyncSender::new(back.sender().unwrap()).unwrap();
                    let mut buf = [0u8; 64];
                    for _ in 0..WARM + n {
                        let len = rx.recv(&mut buf).await.unwrap();
                        tx.send(&buf[..len]).await.unwrap();
                    }
                });
                0
            })
        }?;
        pin(cpu_a);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let ns = rt.block_on(async {
            let mut tx = AsyncSender::new(there.sender().unwrap()).unwrap();
            let mut rx = AsyncReceiver::new(back.receiver().unwrap()).unwrap();
            rx.set_spin(spin);
            let mut buf = [0u8; 64];
            let msg = [7u8; 64];
            for _ in 0..WARM {
                tx.send(&msg).await.unwrap();
                rx.recv(&mut buf).await.unwrap();
            }
            let start = Instant::now();
            for _ in 0..n {
                tx.send(&msg).await.unwrap();
                let len = rx.recv(&mut buf).await.unwrap();
                assert_eq!(&buf[..len], &msg);
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        });
        child.wait()?;
        Ok(ns)
    };
    let c_block = || -> Result<f64, Box<dyn std::error::Error>> {
        let out =
            Command::new(&exe).arg(n.to_string()).arg(cpu_a.to_string()).arg(cpu_b.to_string()).output()?;
        if !out.status.success() {
            return Err("the eventfd ping-pong failed".into());
        }
        Ok(String::from_utf8(out.stdout)?.trim().parse()?)
    };

    // The same ping-pong as the C one, in Rust through tokio (`AsyncFd` on the two
    // eventfds, idiomatic: await readable, then a non-blocking read): what tokio's
    // reactor adds to the kernel floor, without ipckit.
    let tokio_block = || -> Result<f64, Box<dyn std::error::Error>> {
        let (a, b) = (eventfd()?, eventfd()?);
        // SAFETY: as for the ipckit block.
        let child = unsafe {
            ipckit::process::fork_with(|| {
                pin(cpu_b);
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let a = async_fd(a.try_clone().unwrap());
                    for _ in 0..WARM + n {
                        efd_read(&a).await;
                        efd_write(&b);
                    }
                });
                0
            })
        }?;
        pin(cpu_a);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let ns = rt.block_on(async {
            let b = async_fd(b.try_clone().unwrap());
            for _ in 0..WARM {
                efd_write(&a);
                efd_read(&b).await;
            }
            let start = Instant::now();
            for _ in 0..n {
                efd_write(&a);
                efd_read(&b).await;
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        });
        child.wait()?;
        Ok(ns)
    };

    let (mut theirs, mut ours, mut spun, mut plain) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut ratios_spun, mut ratios_plain) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let c = c_block()?;
        let i = ipckit_block(std::time::Duration::ZERO)?;
        let t = tokio_block()?;
        let z = ipckit_block(std::time::Duration::from_micros(10))?;
        theirs.push(c);
        ours.push(i);
        plain.push(t);
        spun.push(z);
        ratios.push(i / c);
        ratios_plain.push(t / c);
        ratios_spun.push(z / c);
    }
    // Median, p10 and p90.
    let q = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
        (at(0.5), at(0.1), at(0.9))
    };
    let pinned = match pin_mode.as_str() {
        "none" => "processes not pinned",
        "same" => "both processes pinned to CPU 0",
        _ => "processes pinned to CPUs 0 and 1",
    };
    println!(
        "{n} round trips (after {WARM} untimed) x {rounds} alternating rounds, 64-byte messages, {pinned}"
    );
    println!("eventfd ping-pong (C, blocking)         median {:>9.1} ns", q(&mut theirs).0);
    println!("ipckit async, default (parks at once)   median {:>9.1} ns", q(&mut ours).0);
    println!("ipckit async, set_spin(10 us)           median {:>9.1} ns", q(&mut spun).0);
    println!("eventfd ping-pong (tokio AsyncFd)       median {:>9.1} ns", q(&mut plain).0);
    let (m, lo, hi) = q(&mut ratios);
    println!("ratio default / eventfd                 median {m:>9.2} x  [p10 {lo:.2} - p90 {hi:.2}]");
    let (m, lo, hi) = q(&mut ratios_plain);
    println!("ratio tokio eventfd / eventfd           median {m:>9.2} x  [p10 {lo:.2} - p90 {hi:.2}]");
    let (m, lo, hi) = q(&mut ratios_spun);
    println!("ratio spin 10 us / eventfd              median {m:>9.2} x  [p10 {lo:.2} - p90 {hi:.2}]");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A non-blocking eventfd (`eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)`).
#[cfg(feature = "tokio")]
fn eventfd() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: eventfd takes no pointers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Registers a descriptor with the current runtime's reactor.
#[cfg(feature = "tokio")]
fn async_fd(fd: std::os::fd::OwnedFd) -> AsyncFd<std::os::fd::OwnedFd> {
    // SAFETY: the AsyncFd owns the descriptor: it stays open until the AsyncFd is
    // dropped, after deregistering it.
    unsafe { AsyncFd::register(fd) }.expect("register with the reactor")
}

/// Adds 1 to an eventfd.
#[cfg(feature = "tokio")]
fn efd_write(fd: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let v = 1u64;
    // SAFETY: writes the 8 bytes of `v`.
    let r = unsafe { libc::write(fd.as_raw_fd(), (&v as *const u64).cast(), 8) };
    assert_eq!(r, 8, "eventfd write: {}", std::io::Error::last_os_error());
}

/// Awaits an eventfd through tokio and reads (resets) its counter.
#[cfg(feature = "tokio")]
async fn efd_read(fd: &AsyncFd<std::os::fd::OwnedFd>) {
    use std::os::fd::AsRawFd;
    loop {
        let mut guard = fd.readable().await.expect("readable");
        let r = guard.try_io(|fd| {
            let mut v = 0u64;
            // SAFETY: reads 8 bytes into `v`.
            let r = unsafe { libc::read(fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
            if r == 8 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
        });
        match r {
            Ok(r) => return r.expect("eventfd read"),
            Err(_would_block) => continue,
        }
    }
}

/// Pins the calling process to `cpu` (`sched_setaffinity`); -1 leaves it alone.
#[cfg(feature = "tokio")]
fn pin(cpu: i32) {
    if cpu < 0 {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (0 or 1), and the set lives on our stack.
    unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    // SAFETY: pid 0 is the calling thread; the set is initialised and sized correctly.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(r, 0, "sched_setaffinity to CPU {cpu}: {}", std::io::Error::last_os_error());
}

#[cfg(not(feature = "tokio"))]
fn main() {
    eprintln!("channel_async_rtt needs the tokio feature: --features tokio");
}
