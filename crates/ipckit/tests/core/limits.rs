//! Kernel limits: /proc/sys and IPC_INFO agree, and errors name them.

use ipckit::Limit;
use ipckit::limits::Limits;

fn proc_value(path: &str, field: usize) -> u64 {
    std::fs::read_to_string(path).unwrap().split_whitespace().nth(field).unwrap().parse().unwrap()
}

#[test]
fn proc_and_ipc_info_agree() {
    let from_proc = Limits::read().unwrap();
    let from_kernel = Limits::read_ipc_info().unwrap();
    // IPC_INFO reports ints: values beyond i32 (shmmax, shmall) are clamped there.
    let clamp = |v: u64| v.min(i32::MAX as u64);
    assert_eq!(from_proc.msgmax, from_kernel.msgmax);
    assert_eq!(from_proc.msgmnb, from_kernel.msgmnb);
    assert_eq!(from_proc.msgmni, from_kernel.msgmni);
    assert_eq!(from_proc.semmsl, from_kernel.semmsl);
    assert_eq!(from_proc.semmns, from_kernel.semmns);
    assert_eq!(from_proc.semopm, from_kernel.semopm);
    assert_eq!(from_proc.semmni, from_kernel.semmni);
    assert_eq!(from_proc.semvmx, from_kernel.semvmx);
    assert_eq!(from_proc.shmmni, from_kernel.shmmni);
    assert_eq!(from_proc.shmmin, from_kernel.shmmin);
    assert!(from_kernel.shmmax == from_proc.shmmax || from_kernel.shmmax == clamp(from_proc.shmmax));
    assert!(from_kernel.shmall == from_proc.shmall || from_kernel.shmall == clamp(from_proc.shmall));
}

#[test]
fn each_limit_reads_its_proc_file() {
    assert_eq!(Limit::MsgMax.current(), Some(proc_value("/proc/sys/kernel/msgmax", 0)));
    assert_eq!(Limit::MsgMnb.current(), Some(proc_value("/proc/sys/kernel/msgmnb", 0)));
    assert_eq!(Limit::SemMsl.current(), Some(proc_value("/proc/sys/kernel/sem", 0)));
    assert_eq!(Limit::SemMns.current(), Some(proc_value("/proc/sys/kernel/sem", 1)));
    assert_eq!(Limit::SemOpm.current(), Some(proc_value("/proc/sys/kernel/sem", 2)));
    assert_eq!(Limit::SemMni.current(), Some(proc_value("/proc/sys/kernel/sem", 3)));
    assert_eq!(Limit::ShmMni.current(), Some(proc_value("/proc/sys/kernel/shmmni", 0)));
    assert_eq!(Limit::PipeMaxSize.current(), Some(proc_value("/proc/sys/fs/pipe-max-size", 0)));
    for l in Limit::ALL {
        if let Some(p) = l.proc_path() {
            assert!(p.starts_with("/proc/sys/"), "{l}: {p}");
        }
        assert!(!l.name().is_empty());
    }
}
