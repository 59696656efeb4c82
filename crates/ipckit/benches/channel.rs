//! Micro-benchmarks of the channel's hot paths, in one process (no core-to-core
//! transfer): what the software costs per message. `cargo bench -p ipckit-unix`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipckit::channel::{Channel, ChannelConfig};

fn send_recv(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel send+recv, one process");
    for size in [8usize, 64, 4096, 65536] {
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity((4 * size).max(65536))).unwrap();
        let mut tx = chan.sender().unwrap();
        let mut rx = chan.receiver().unwrap();
        let msg = vec![7u8; size];
        let mut buf = vec![0u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("copy {size} B"), |b| {
            b.iter(|| {
                tx.send(black_box(&msg)).unwrap();
                black_box(rx.recv(&mut buf).unwrap());
            })
        });
        g.bench_function(format!("loan + in place {size} B"), |b| {
            b.iter(|| {
                let mut loan = tx.loan(size).unwrap();
                loan.write_at(0, &msg[..8]).unwrap();
                loan.commit();
                let guard = rx.recv_in_place().unwrap();
                let mut head = [0u8; 8];
                guard.read_at(0, &mut head).unwrap();
                black_box(head);
            })
        });
    }
    g.finish();
}

fn empty_polls(c: &mut Criterion) {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let _tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    let mut buf = [0u8; 64];
    c.bench_function("try_recv on an empty channel", |b| {
        b.iter(|| black_box(rx.try_recv(&mut buf).unwrap_err().is_not_now()))
    });
}

fn pod(c: &mut Criterion) {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    c.bench_function("send_pod + recv_pod [u64; 8]", |b| {
        b.iter(|| {
            tx.send_pod(black_box(&[1u64; 8])).unwrap();
            black_box(rx.recv_pod::<[u64; 8]>().unwrap());
        })
    });
}

criterion_group!(benches, send_recv, empty_polls, pod);
criterion_main!(benches);
