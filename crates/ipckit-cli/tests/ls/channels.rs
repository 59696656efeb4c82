//! `ipckit ls --channels` (text and JSON), stale channels in `ls --stale`, and
//! `rm --stale` removing exactly them, across real processes.
//!
//! A holder process (this test binary, run again with `LS_CHANNELS_HOLDER` set, in a
//! private IPC namespace made by `unshare --ipc`) creates a named single-pair channel,
//! a System V one, a memfd one and a named publish/subscribe channel, sends messages,
//! and waits to be killed. A second holder in the same namespace keeps an unrelated
//! System V channel and a named one alive. The holders also share a private mount
//! namespace with its own `/dev/shm` (`PRIVATE_SHM`), and the `ipckit` commands run in
//! both namespaces through `nsenter`, so `rm --stale` never sees the System V objects,
//! POSIX objects or named channels of the machine.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::*;
use ipckit::Mode;
use ipckit::channel::{Channel, ChannelConfig, PatternConfig, pubsub::PubSub};
use serde_json::Value;

const HOLDER: &str = "LS_CHANNELS_HOLDER";

/// Sent on the named channel; the holder takes `TAKEN` of them.
const SENT: usize = 7;
const TAKEN: usize = 2;

/// Not a test: the entry of the holder processes (does nothing without `LS_CHANNELS_HOLDER`).
#[test]
fn holder_entry() {
    let Ok(spec) = std::env::var(HOLDER) else { return };
    let (what, tag) = spec.split_once(':').expect("WHAT:TAG");
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    let mut ready = String::from("READY");
    if what == "leaky" {
        let mut chan = Channel::create_named(
            &format!("/lsch-{tag}-spsc"),
            &ChannelConfig::new().with_capacity(8192),
            Mode::OWNER_RW,
        )
        .unwrap();
        // Removed if we leave on our own (the test is gone); not when killed.
        chan.set_remove_on_drop(true).unwrap();
        let mut tx = chan.sender().unwrap();
        let mut rx = chan.receiver().unwrap();
        for i in 0..SENT {
            tx.send(&[i as u8; 40]).unwrap();
        }
        let mut buf = [0u8; 64];
        for _ in 0..TAKEN {
            rx.recv(&mut buf).unwrap();
        }
        keep.extend([Box::new(chan) as Box<dyn std::any::Any>, Box::new(tx), Box::new(rx)]);

        let chan = Channel::create_sysv(
            ipckit::Key::PRIVATE,
            &ChannelConfig::new().with_capacity(4096),
            Mode::OWNER_RW,
        )
        .unwrap();
        let mut tx = chan.sender().unwrap();
        for _ in 0..3 {
            tx.send(b"sysv").unwrap();
        }
        ready += &format!(" sysv={}", chan.segment_id().unwrap());
        keep.extend([Box::new(chan) as Box<dyn std::any::Any>, Box::new(tx)]);

        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
        let mut tx = chan.sender().unwrap();
        for _ in 0..4 {
            tx.send(b"memfd").unwrap();
        }
        keep.extend([Box::new(chan) as Box<dyn std::any::Any>, Box::new(tx)]);

        let cfg = PatternConfig::new().with_capacity(16 * 1024).with_max_members(4);
        let ps = PubSub::create_named(&format!("/lsch-{tag}-ps"), &cfg, Mode::OWNER_RW).unwrap();
        let mut publisher = ps.publisher().unwrap();
        let s1 = ps.subscriber().unwrap();
        let s2 = ps.subscriber().unwrap();
        for _ in 0..5 {
            publisher.send(b"tick").unwrap();
        }
        keep.extend([
            Box::new(ps) as Box<dyn std::any::Any>,
            Box::new(publisher),
            Box::new(s1),
            Box::new(s2),
        ]);
    } else {
        let chan = Channel::create_sysv(
            ipckit::Key::PRIVATE,
            &ChannelConfig::new().with_capacity(4096),
            Mode::OWNER_RW,
        )
        .unwrap();
        ready += &format!(" sysv={}", chan.segment_id().unwrap());
        let tx = chan.sender().unwrap();
        keep.extend([Box::new(chan) as Box<dyn std::any::Any>, Box::new(tx)]);
        let mut chan = Channel::create_named(
            &format!("/lsch-{tag}-live"),
            &ChannelConfig::new().with_capacity(4096),
            Mode::OWNER_RW,
        )
        .unwrap();
        chan.set_remove_on_drop(true).unwrap();
        let rx = chan.receiver().unwrap();
        keep.extend([Box::new(chan) as Box<dyn std::any::Any>, Box::new(rx)]);
    }
    println!("{ready}");
    // Wait to be killed; leave on our own if the test that started us is gone.
    let parent = std::os::unix::process::parent_id();
    while std::os::unix::process::parent_id() == parent {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(keep);
}

/// The holders: killed on drop, even on panic (what they made goes with their namespaces).
struct Scene {
    tag: String,
    holders: Vec<Child>,
}

impl Drop for Scene {
    fn drop(&mut self) {
        for h in &mut self.holders {
            let _ = h.kill();
            let _ = h.wait();
        }
        // The System V segments go with the IPC namespace, and the named channels with
        // the private /dev/shm, once the holders are gone.
    }
}

impl Scene {
    /// Starts a holder (`unshare --ipc` for the first, `nsenter` into its namespace for
    /// the others) and returns the System V id it reports.
    fn start(&mut self, what: &str) -> i32 {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match self.holders.first() {
            None => {
                let mut c = Command::new("unshare");
                c.args(["--ipc", "--mount", "--propagation", "private", "--", "sh", "-c"])
                    .arg(format!("{PRIVATE_SHM}\nexec \"$0\" \"$@\""));
                c
            }
            Some(first) => {
                let mut c = Command::new("nsenter");
                c.args(namespaces(first.id())).arg("--");
                c
            }
        };
        cmd.arg(exe).args(["channels::holder_entry", "--exact", "--nocapture", "--test-threads=1"]);
        let mut child = cmd
            .env(HOLDER, format!("{what}:{}", self.tag))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a holder");
        let out = child.stdout.take().unwrap();
        self.holders.push(child);
        for line in BufReader::new(out).lines() {
            let line = line.expect("read the holder");
            if let Some((_, rest)) = line.split_once("READY") {
                let id = rest.trim().strip_prefix("sysv=").expect("sysv id");
                return id.parse().unwrap();
            }
        }
        panic!("the {what} holder ended before it was ready");
    }

    /// `ipckit ARGS` in the holders' IPC namespace (entered through the last holder,
    /// which lives to the end); stdout.
    fn ipckit(&self, args: &[&str]) -> String {
        let out = Command::new("nsenter")
            .args(namespaces(self.holders.last().expect("a holder").id()))
            .arg("--")
            .arg(bin())
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .expect("run ipckit");
        assert!(out.status.success(), "ipckit {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Vec<Value> {
        let doc: Value = serde_json::from_str(&self.ipckit(args)).expect("JSON");
        doc["channels"].as_array().expect("a channels array").clone()
    }
}

/// `nsenter` options for the IPC and mount namespaces of process `pid`.
fn namespaces(pid: u32) -> [String; 2] {
    [format!("--ipc=/proc/{pid}/ns/ipc"), format!("--mount=/proc/{pid}/ns/mnt")]
}

impl Scene {
    /// Whether `/dev/shm{name}` exists in the holders' private `/dev/shm`.
    fn shm_exists(&self, name: &str) -> bool {
        let pid = self.holders.last().expect("a holder").id();
        std::path::Path::new(&format!("/proc/{pid}/root/dev/shm{name}")).exists()
    }
}

fn named<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
    list.iter().find(|c| c["place"] == "named" && c["name"] == name)
}

fn sysv(list: &[Value], id: i32) -> Option<&Value> {
    list.iter().find(|c| c["place"] == "sysv" && c["id"] == id)
}

fn ends(c: &Value) -> Vec<(String, u64, String, Option<bool>)> {
    c["ends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["role"].as_str().unwrap().to_string(),
                e["pid"].as_u64().unwrap(),
                e["state"].as_str().unwrap().to_string(),
                e["alive"].as_bool(),
            )
        })
        .collect()
}

#[test]
fn channels_are_listed_found_stale_and_removed() {
    if let Some(why) = no_namespace() {
        skip!("{why}");
    }
    if Command::new("nsenter").arg("--version").output().is_err() {
        skip!("nsenter is missing");
    }
    let tag = format!("{}-{}", std::process::id(), line!());
    let mut scene = Scene { tag: tag.clone(), holders: Vec::new() };
    let leaky_id = scene.start("leaky");
    let live_id = scene.start("live");
    let leaky = scene.holders[0].id() as u64;
    let (spsc_name, ps_name, live_name) =
        (format!("/lsch-{tag}-spsc"), format!("/lsch-{tag}-ps"), format!("/lsch-{tag}-live"));

    // Everything is listed, with what its header says.
    let list = scene.json(&["ls", "--channels", "--json"]);
    let c = named(&list, &spsc_name).unwrap_or_else(|| panic!("{spsc_name} not in {list:?}"));
    assert_eq!((c["kind"].as_str(), c["capacity_bytes"].as_u64()), (Some("spsc"), Some(8192)));
    assert_eq!(c["sent"].as_u64(), Some(SENT as u64));
    assert_eq!(c["queued_messages"].as_u64(), Some((SENT - TAKEN) as u64));
    assert_eq!(c["received"].as_u64(), Some(TAKEN as u64));
    assert_eq!(c["queued_bytes"].as_u64(), Some((SENT - TAKEN) as u64 * 128), "records of 56 bytes in 128");
    assert_eq!(c["creator_pid"].as_u64(), Some(leaky));
    assert_eq!(
        ends(c),
        [
            ("sender".into(), leaky, "held".into(), Some(true)),
            ("receiver".into(), leaky, "held".into(), Some(true))
        ]
    );
    assert!(c.get("stale_reason").is_none());

    let c = sysv(&list, leaky_id).unwrap_or_else(|| panic!("shm id {leaky_id} not in {list:?}"));
    assert_eq!((c["kind"].as_str(), c["capacity_bytes"].as_u64()), (Some("spsc"), Some(4096)));
    assert_eq!((c["sent"].as_u64(), c["queued_messages"].as_u64()), (Some(3), Some(3)));
    assert_eq!(
        ends(c),
        [
            ("sender".into(), leaky, "held".into(), Some(true)),
            ("receiver".into(), 0, "free".into(), Some(false))
        ]
    );

    let c = list
        .iter()
        .find(|c| c["place"] == "memfd" && c["holders"].as_array().unwrap().contains(&Value::from(leaky)))
        .unwrap_or_else(|| panic!("the holder's memfd channel not in {list:?}"));
    assert_eq!((c["kind"].as_str(), c["name"].as_str()), (Some("spsc"), Some("ipckit-channel")));
    assert_eq!((c["sent"].as_u64(), c["queued_messages"].as_u64()), (Some(4), Some(4)));

    let c = named(&list, &ps_name).unwrap_or_else(|| panic!("{ps_name} not in {list:?}"));
    assert_eq!((c["kind"].as_str(), c["capacity_bytes"].as_u64()), (Some("pubsub"), Some(16 * 1024)));
    assert_eq!(c["slots"].as_u64(), Some(4));
    let roles = ends(c);
    assert_eq!(roles.len(), 3, "{c}");
    assert!(
        roles.iter().all(|(_, pid, state, alive)| *pid == leaky && state == "held" && *alive == Some(true))
    );
    assert_eq!(roles[0].0, "publisher");

    assert!(named(&list, &live_name).is_some() && sysv(&list, live_id).is_some(), "{list:?}");
    let text = scene.ipckit(&["ls", "--channels"]);
    assert!(text.contains("------ ipckit Channels --------"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("spsc") && l.contains(&spsc_name)), "{text}");
    assert!(text.contains(&format!("sender {leaky} live")), "{text}");
    assert!(scene.json(&["ls", "--channels", "--stale", "--json"]).iter().all(|c| {
        c["name"] != spsc_name.as_str() && c["name"] != ps_name.as_str() && c["id"] != leaky_id
    }));

    // The leaky holder dies: its named and System V channels are stale; its memfd is
    // gone with it; the live holder's channels are not stale.
    scene.holders[0].kill().unwrap();
    scene.holders[0].wait().unwrap();
    let stale = scene.json(&["ls", "--channels", "--stale", "--json"]);
    for c in [named(&stale, &spsc_name), named(&stale, &ps_name), sysv(&stale, leaky_id)] {
        let c = c.unwrap_or_else(|| panic!("a leaked channel is not stale: {stale:?}"));
        let why = c["stale_reason"].as_str().unwrap();
        assert!(why.contains(&format!("{leaky} gone")), "{why}");
        assert!(ends(c).iter().all(|e| e.3 == Some(false)), "{c}");
    }
    assert!(named(&stale, &live_name).is_none() && sysv(&stale, live_id).is_none(), "{stale:?}");
    let all = scene.json(&["ls", "--channels", "--json"]);
    assert!(
        !all.iter()
            .any(|c| c["place"] == "memfd" && c["holders"].as_array().unwrap().contains(&Value::from(leaky))),
        "{all:?}"
    );
    let text = scene.ipckit(&["ls", "--stale"]);
    assert!(text.contains("------ Stale ipckit Channels --------") && text.contains(&spsc_name), "{text}");
    let doc: Value = serde_json::from_str(&scene.ipckit(&["ls", "--stale", "--json"])).unwrap();
    assert!(named(doc["channels"].as_array().unwrap(), &ps_name).is_some(), "{doc}");

    // rm --stale --dry-run says, and removes nothing; rm --stale removes exactly them.
    let dry = scene.ipckit(&["rm", "--stale", "--dry-run"]);
    assert!(dry.contains(&format!("would remove channel {spsc_name}")), "{dry}");
    assert!(scene.shm_exists(&spsc_name));
    let removed = scene.ipckit(&["rm", "--stale"]);
    assert!(removed.contains(&format!("removing channel {ps_name}")), "{removed}");
    assert!(!scene.shm_exists(&spsc_name), "{removed}");
    assert!(!scene.shm_exists(&ps_name), "{removed}");
    let after = scene.json(&["ls", "--channels", "--json"]);
    assert!(sysv(&after, leaky_id).is_none(), "the stale segment is gone: {after:?}");
    assert!(
        named(&after, &live_name).is_some() && sysv(&after, live_id).is_some(),
        "live ones stay: {after:?}"
    );
    assert!(scene.shm_exists(&live_name));
}
