//! Helpers for the bridge tests: a private nats-server (its own loopback port and
//! JetStream store, killed on drop even when a test panics) and bridge processes.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The nats-server binary, or why there is none. In CI (`CI` set) a missing server
/// is a failure, not a skip.
pub fn nats_server() -> Result<PathBuf, String> {
    let found = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths).map(|d| d.join("nats-server")).find(|p| p.exists())
            })
        });
    match found {
        Some(p) => Ok(p),
        None if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") => {
            panic!(
                "nats-server is not installed, and CI must run the bridge tests (apt-get install nats-server)"
            )
        }
        None => Err("nats-server is not installed (apt-get install nats-server)".into()),
    }
}

/// Skips the test (returning early) when there is no nats-server, outside CI.
#[macro_export]
macro_rules! need_nats {
    () => {
        match $crate::bridge_util::nats_server() {
            Ok(p) => p,
            Err(why) => {
                eprintln!("SKIPPED {}: {why}", module_path!());
                return;
            }
        }
    };
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("local addr").port()
}

/// A nats-server with JetStream on a free loopback port and a private store.
pub struct Server {
    exe: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Server {
    /// Starts a server; `extra` are more nats-server options (`--user`, `--auth`...).
    pub fn start(exe: &Path, extra: &[&str]) -> Server {
        let mut s = Server {
            exe: exe.to_path_buf(),
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        s.spawn();
        s
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log file");
        let child = Command::new(&self.exe)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.path().join("js"))
            .args(&self.extra)
            .stdout(log.try_clone().expect("stderr file"))
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM, so it closes its store) and starts it again on the
    /// same port and store.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Kills the server with SIGKILL (no chance to close its store) and starts it
    /// again on the same port and store.
    pub fn kill9_restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn();
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An `ipckit bridge` process, SIGKILLed on drop unless stopped.
pub struct Bridge {
    pub child: Option<Child>,
    pub args: Vec<String>,
    err: PathBuf,
}

impl Bridge {
    /// Starts `ipckit bridge ARGS`, its stdout (status lines with `--json`) and stderr
    /// going to `err`.
    pub fn start(args: &[String], err: &Path) -> Bridge {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(err).expect("stderr file");
        let child = Command::new(env!("CARGO_BIN_EXE_ipckit"))
            .arg("bridge")
            .args(args)
            .stdout(log.try_clone().expect("stderr file"))
            .stderr(log)
            .spawn()
            .expect("start ipckit bridge");
        Bridge { child: Some(child), args: args.to_vec(), err: err.to_path_buf() }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        c.wait().expect("wait")
    }

    pub fn restart(&mut self) {
        self.kill9();
        *self = Bridge::start(&self.args.clone(), &self.err.clone());
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Its log once it holds `needle`, looked for every 20 ms; panics with `what`
    /// and the log if a minute passes without it (a bridge that never says it, not a
    /// clock).
    pub fn stderr_once(&self, needle: &str, what: &str) -> String {
        let t = std::time::Instant::now();
        loop {
            let log = self.stderr();
            if log.contains(needle) {
                return log;
            }
            assert!(t.elapsed() < std::time::Duration::from_secs(60), "{what}: {log}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `ipckit bridge ARGS` to its end.
pub fn bridge_output(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipckit")).arg("bridge").args(args).output().expect("run ipckit bridge")
}

/// Strings for a bridge's arguments.
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
