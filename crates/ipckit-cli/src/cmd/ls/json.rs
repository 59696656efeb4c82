//! `--json`: one JSON document with every field of every selected object (and the
//! limits with `-l`, the usage summary with `-u`, POSIX objects with `--posix`,
//! only the stale ones with their reason with `--stale`).
//!
//! Field names are stable; a field that the kernel does not report is `null`.

use std::io::Write;

use ipckit::limits::Limits;
use ipckit::registry::{self, MsgEntry, SemEntry, ShmEntry, Source};
use ipckit::sysv::{msg, sem, shm};
use serde::Serialize;

use super::Res0;
use super::opts::{Format, Opts};
use super::stale::find_stale;
use crate::util::{self, Names};

// ----- --json ---------------------------------------------------------------------

#[derive(Serialize)]
struct Who {
    uid: u32,
    user: Option<String>,
    gid: u32,
    group: Option<String>,
}

#[derive(Serialize)]
struct Time {
    epoch: i64,
    rfc3339: String,
}

fn time(t: i64) -> Option<Time> {
    (t != 0).then(|| Time { epoch: t, rfc3339: util::rfc3339(t) })
}

fn who(names: &mut Names, uid: u32, gid: u32) -> Who {
    Who { uid, user: names.user(uid), gid, group: names.group(gid) }
}

#[derive(Serialize)]
struct MsgJson {
    key: String,
    id: i32,
    owner: Who,
    creator: Who,
    mode: String,
    used_bytes: u64,
    messages: u64,
    capacity_bytes: Option<u64>,
    last_send_pid: u32,
    last_recv_pid: u32,
    last_send: Option<Time>,
    last_recv: Option<Time>,
    changed: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct ShmJson {
    key: String,
    id: i32,
    owner: Who,
    creator: Who,
    mode: String,
    size_bytes: u64,
    attachments: u64,
    creator_pid: u32,
    last_pid: u32,
    last_attach: Option<Time>,
    last_detach: Option<Time>,
    changed: Option<Time>,
    marked_for_removal: bool,
    locked: bool,
    resident_bytes: Option<u64>,
    swapped_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct SemValueJson {
    num: usize,
    value: u16,
    waiting_to_take: u32,
    waiting_for_zero: u32,
    last_pid: u32,
}

#[derive(Serialize)]
struct SemJson {
    key: String,
    id: i32,
    owner: Who,
    creator: Who,
    mode: String,
    nsems: u64,
    last_op: Option<Time>,
    changed: Option<Time>,
    semaphores: Option<Vec<SemValueJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct LimitsJson {
    msgmax: u64,
    msgmnb: u64,
    msgmni: u64,
    semmsl: u64,
    semmns: u64,
    semopm: u64,
    semmni: u64,
    semvmx: u64,
    shmmax: u64,
    shmall_pages: u64,
    shmmni: u64,
    shmmin: u64,
    page_size: u64,
}

#[derive(Serialize, Default)]
struct SummaryJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    message_queues: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_memory: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    semaphore_sets: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct PosixObjJson {
    name: String,
    owner: Who,
    mode: String,
    modified: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queued_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct PosixJson {
    shared_memory: Vec<PosixObjJson>,
    semaphores: Vec<PosixObjJson>,
    message_queues: Option<Vec<PosixObjJson>>,
    /// With `--stale`: why no POSIX object could be judged, if none could.
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_unknown: Option<String>,
}

#[derive(Serialize, Default)]
struct Doc {
    #[serde(skip_serializing_if = "Option::is_none")]
    message_queues: Option<Vec<MsgJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_memory: Option<Vec<ShmJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    semaphore_sets: Option<Vec<SemJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<LimitsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<SummaryJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    posix: Option<PosixJson>,
    /// With `--stale`: the stale ipckit channels (see `channels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<Vec<super::channels::ChannelJson>>,
}

fn mode(m: u32) -> String {
    format!("{:04o}", m & 0o7777)
}

fn msg_json(q: MsgEntry, names: &mut Names, why: Option<String>) -> MsgJson {
    MsgJson {
        key: q.key.to_string(),
        id: q.id,
        owner: who(names, q.uid, q.gid),
        creator: who(names, q.cuid, q.cgid),
        mode: mode(q.mode),
        used_bytes: q.cbytes,
        messages: q.qnum,
        capacity_bytes: q.qbytes,
        last_send_pid: q.lspid,
        last_recv_pid: q.lrpid,
        last_send: time(q.stime),
        last_recv: time(q.rtime),
        changed: time(q.ctime),
        stale_reason: why,
    }
}

fn shm_json(m: ShmEntry, names: &mut Names, why: Option<String>) -> ShmJson {
    ShmJson {
        key: m.key.to_string(),
        id: m.id,
        owner: who(names, m.uid, m.gid),
        creator: who(names, m.cuid, m.cgid),
        mode: mode(m.mode),
        size_bytes: m.size,
        attachments: m.nattch,
        creator_pid: m.cpid,
        last_pid: m.lpid,
        last_attach: time(m.atime),
        last_detach: time(m.dtime),
        changed: time(m.ctime),
        marked_for_removal: m.marked_for_removal(),
        locked: m.locked(),
        resident_bytes: m.rss,
        swapped_bytes: m.swap,
        stale_reason: why,
    }
}

fn sem_json(s: SemEntry, names: &mut Names, why: Option<String>) -> SemJson {
    let values = registry::semaphore_values(s.id).ok().map(|v| {
        v.iter()
            .enumerate()
            .map(|(num, v)| SemValueJson {
                num,
                value: v.value,
                waiting_to_take: v.ncnt,
                waiting_for_zero: v.zcnt,
                last_pid: v.pid,
            })
            .collect()
    });
    SemJson {
        key: s.key.to_string(),
        id: s.id,
        owner: who(names, s.uid, s.gid),
        creator: who(names, s.cuid, s.cgid),
        mode: mode(s.mode),
        nsems: s.nsems,
        last_op: time(s.otime),
        changed: time(s.ctime),
        semaphores: values,
        stale_reason: why,
    }
}

pub(super) fn json(out: &mut dyn Write, o: &Opts, names: &mut Names) -> Res0 {
    let mut doc = Doc::default();
    let keep = |id: i32| o.id.is_none_or(|want| want == id);
    if o.stale {
        let s = find_stale(o.msg, o.shm, o.sem)?;
        if o.msg {
            doc.message_queues = Some(
                s.msg
                    .into_iter()
                    .filter(|e| keep(e.0.id))
                    .map(|(q, w)| msg_json(q, names, Some(w)))
                    .collect(),
            );
        }
        if o.shm {
            doc.shared_memory = Some(
                s.shm
                    .into_iter()
                    .filter(|e| keep(e.0.id))
                    .map(|(m, w)| shm_json(m, names, Some(w)))
                    .collect(),
            );
        }
        if o.sem {
            doc.semaphore_sets = Some(
                s.sem
                    .into_iter()
                    .filter(|e| keep(e.0.id))
                    .map(|(e, w)| sem_json(e, names, Some(w)))
                    .collect(),
            );
        }
    } else {
        if o.msg {
            let list = registry::messages(Source::Auto)?;
            doc.message_queues =
                Some(list.into_iter().filter(|e| keep(e.id)).map(|q| msg_json(q, names, None)).collect());
        }
        if o.shm {
            let list = registry::shared_memory(Source::Auto)?;
            doc.shared_memory =
                Some(list.into_iter().filter(|e| keep(e.id)).map(|m| shm_json(m, names, None)).collect());
        }
        if o.sem {
            let list = registry::semaphores(Source::Auto)?;
            doc.semaphore_sets =
                Some(list.into_iter().filter(|e| keep(e.id)).map(|s| sem_json(s, names, None)).collect());
        }
    }
    if o.stale && o.shm && o.id.is_none() {
        let list = super::channels::find_stale()?;
        doc.channels = Some(list.iter().map(|(c, w)| super::channels::to_json(c, Some(w.clone()))).collect());
    }
    if o.format == Format::Limits {
        let l = Limits::read()?;
        doc.limits = Some(LimitsJson {
            msgmax: l.msgmax,
            msgmnb: l.msgmnb,
            msgmni: l.msgmni,
            semmsl: l.semmsl,
            semmns: l.semmns,
            semopm: l.semopm,
            semmni: l.semmni,
            semvmx: l.semvmx,
            shmmax: l.shmmax,
            shmall_pages: l.shmall,
            shmmni: l.shmmni,
            shmmin: l.shmmin,
            page_size: registry::page_size(),
        });
    }
    if o.format == Format::Status {
        let mut s = SummaryJson::default();
        if o.msg {
            let (_, i) = msg::info(msg::InfoKind::Usage)?;
            s.message_queues = Some(serde_json::json!({
                "queues": i.msgpool, "headers": i.msgmap, "used_bytes": i.msgtql as u32,
            }));
        }
        if o.shm {
            let (_, i) = shm::info()?;
            s.shared_memory = Some(serde_json::json!({
                "segments": i.used_ids, "pages_allocated": i.shm_tot,
                "pages_resident": i.shm_rss, "pages_swapped": i.shm_swp,
            }));
        }
        if o.sem {
            let (_, i) = sem::info(sem::InfoKind::Usage)?;
            s.semaphore_sets = Some(serde_json::json!({ "sets": i.semusz, "semaphores": i.semaem }));
        }
        doc.summary = Some(s);
    }
    if o.posix {
        let p = registry::posix_objects()?;
        let obj = |names: &mut Names, name: &str, uid, gid, m, mtime| PosixObjJson {
            name: name.to_string(),
            owner: who(names, uid, gid),
            mode: mode(m),
            modified: time(mtime),
            size_bytes: None,
            queued_bytes: None,
            notify_pid: None,
            stale_reason: None,
        };
        doc.posix = Some(PosixJson {
            shared_memory: p
                .shm
                .iter()
                .map(|o| PosixObjJson {
                    size_bytes: Some(o.size),
                    ..obj(names, &o.name, o.uid, o.gid, o.mode, o.mtime)
                })
                .collect(),
            semaphores: p.sem.iter().map(|o| obj(names, &o.name, o.uid, o.gid, o.mode, o.mtime)).collect(),
            message_queues: p.mq.as_ref().map(|list| {
                list.iter()
                    .map(|o| PosixObjJson {
                        queued_bytes: o.qsize,
                        notify_pid: o.notify_pid,
                        ..obj(names, &o.name, o.uid, o.gid, o.mode, o.mtime)
                    })
                    .collect()
            }),
            stale_unknown: None,
        });
        if o.stale
            && let Some(pj) = doc.posix.as_mut()
        {
            // Only the stale ones, with the reason (as rm --stale --posix sees them).
            let st = crate::cmd::posix_rm::find_stale()?;
            pj.stale_unknown = st.unknown.clone();
            let keep = |list: &mut Vec<PosixObjJson>, kind: crate::cmd::posix_rm::PKind| {
                list.retain_mut(|e| {
                    let why =
                        st.found.iter().find(|(k, n, _)| *k == kind && *n == e.name).map(|f| f.2.clone());
                    e.stale_reason = why;
                    e.stale_reason.is_some()
                })
            };
            keep(&mut pj.shared_memory, crate::cmd::posix_rm::PKind::Shm);
            keep(&mut pj.semaphores, crate::cmd::posix_rm::PKind::Sem);
            if let Some(mq) = pj.message_queues.as_mut() {
                keep(mq, crate::cmd::posix_rm::PKind::Msg);
            }
        }
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}
