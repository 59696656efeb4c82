//! The async round trip against its floor: two processes each running a tokio
//! runtime bounce a 64-byte message through a pair of channels
//! (`AsyncSender::send().await`, `AsyncReceiver::recv().await`), against two C
//! processes bouncing an eventfd counter (`write`/`read`, blocking) — the kernel
//! wake-up that both pay. Blocks of each alternate; the medians and the per-round
//! ratios (median, p10-p90) are printed, for the default receive (which parks at
//! once) and for one that first looks for 10 µs (`set_spin`).
//!
//! ```text
//! cargo run --release -p ipckit-unix --features tokio --example channel_async_rtt [ROUND_TRIPS] [ROUNDS]
//! ```
//!
//! Needs a C compiler (`cc`). The goal: ipckit within 1.2× of the bare eventfd.

#[cfg(feature = "tokio")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::process::Command;
    use std::time::Instant;

    use ipckit::channel::{AsyncReceiver, AsyncSender, Channel, ChannelConfig};

    const C: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    int a = eventfd(0, 0), b = eventfd(0, 0);
    uint64_t v = 1;
    pid_t p = fork();
    if (p == 0) {
        for (int i = 0; i < n; i++) {
            if (read(a, &v, 8) != 8 || write(b, &v, 8) != 8) _exit(1);
        }
        _exit(0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        if (write(a, &v, 8) != 8 || read(b, &v, 8) != 8) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waitpid(p, 0, 0);
    printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
    return 0;
}
"#;
    let n: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let rounds: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(7);
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
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let mut rx = AsyncReceiver::new(there.receiver().unwrap()).unwrap();
                    rx.set_spin(spin);
                    let mut tx = AsyncSender::new(back.sender().unwrap()).unwrap();
                    let mut buf = [0u8; 64];
                    for _ in 0..n {
                        let len = rx.recv(&mut buf).await.unwrap();
                        tx.send(&buf[..len]).await.unwrap();
                    }
                });
                0
            })
        }?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let ns = rt.block_on(async {
            let mut tx = AsyncSender::new(there.sender().unwrap()).unwrap();
            let mut rx = AsyncReceiver::new(back.receiver().unwrap()).unwrap();
            rx.set_spin(spin);
            let mut buf = [0u8; 64];
            let msg = [7u8; 64];
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
        let out = Command::new(&exe).arg(n.to_string()).output()?;
        Ok(String::from_utf8(out.stdout)?.trim().parse()?)
    };

    let (mut theirs, mut ours, mut spun) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut ratios_spun) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let c = c_block()?;
        let i = ipckit_block(std::time::Duration::ZERO)?;
        let z = ipckit_block(std::time::Duration::from_micros(10))?;
        theirs.push(c);
        ours.push(i);
        spun.push(z);
        ratios.push(i / c);
        ratios_spun.push(z / c);
    }
    // Median, p10 and p90.
    let q = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
        (at(0.5), at(0.1), at(0.9))
    };
    println!("{n} round trips x {rounds} alternating rounds, 64-byte messages, processes not pinned");
    println!("eventfd ping-pong (C, blocking)         median {:>9.1} ns", q(&mut theirs).0);
    println!("ipckit async, default (parks at once)   median {:>9.1} ns", q(&mut ours).0);
    println!("ipckit async, set_spin(10 us)           median {:>9.1} ns", q(&mut spun).0);
    let (m, lo, hi) = q(&mut ratios);
    println!("ratio default / eventfd                 median {m:>9.2} x  [p10 {lo:.2} - p90 {hi:.2}]");
    let (m, lo, hi) = q(&mut ratios_spun);
    println!("ratio spin 10 us / eventfd              median {m:>9.2} x  [p10 {lo:.2} - p90 {hi:.2}]");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[cfg(not(feature = "tokio"))]
fn main() {
    eprintln!("channel_async_rtt needs the tokio feature: --features tokio");
}
