//! A counter in shared memory, protected by a semaphore: the classic shared-memory
//! workflow (shmget, shmat, access, shmdt) with a semaphore lock around each access.
//!
//! ```text
//! shm_counter KEY ROUNDS
//! ```
//!
//! Opens the existing segment and the existing one-semaphore set that share `KEY`
//! (any ipckit key form: `0x1234`, `4660`, `PATH:PROJ`), then `ROUNDS` times: P with
//! `SEM_UNDO`, add 1 to the native-endian `u64` at offset 0, V. The addition is a
//! plain read and write, not an atomic one: only the semaphore keeps concurrent
//! counters (Rust or C, see `tests/c/shm_counter.c`) from losing increments. If the
//! process is killed while holding the lock, `SEM_UNDO` releases it.

use std::process::ExitCode;

use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{Key, KeySpec};

fn run(key: &str, rounds: &str) -> Result<(), String> {
    let key: Key = key.parse::<KeySpec>().and_then(|k| k.resolve()).map_err(|e| e.to_string())?;
    let rounds: u64 = rounds.parse().map_err(|_| format!("ROUNDS must be a count, not {rounds:?}"))?;
    let segment = ShmSegment::open(key).map_err(|e| e.to_string())?; // shmget(key, 0, 0)
    let lock = SemSet::open(key).map_err(|e| e.to_string())?; // semget(key, 0, 0)
    let memory = segment.attach().map_err(|e| e.to_string())?; // shmat(id, NULL, 0)
    for _ in 0..rounds {
        let guard = lock.lock(0).map_err(|e| e.to_string())?; // P, SEM_UNDO
        let mut bytes = [0u8; 8];
        memory.read_at(0, &mut bytes).map_err(|e| e.to_string())?;
        let value = u64::from_ne_bytes(bytes) + 1;
        memory.write_at(0, &value.to_ne_bytes()).map_err(|e| e.to_string())?;
        guard.release().map_err(|e| e.to_string())?; // V, SEM_UNDO
    }
    Ok(()) // shmdt when `memory` is dropped
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, rounds] = args.as_slice() else {
        eprintln!("usage: shm_counter KEY ROUNDS");
        return ExitCode::from(2);
    };
    match run(key, rounds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shm_counter: {e}");
            ExitCode::FAILURE
        }
    }
}
