//! `ipckit bridge` security against a real nats-server configured for each method:
//! TLS with a certificate authority made at test time (the `openssl` command), a
//! token, user and password, an NKey; and a `.creds` file's reading. Each: the right
//! credentials move a message, wrong ones are a clear error with a non-zero exit.
//! Credentials in plaintext to a host that is not a loopback address are refused
//! before any connection is tried.
//!
//! A `.creds` login against an operator-mode server is in creds.rs; here, a bad
//! `.creds` file is a clear error naming it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::bridge_util::*;
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode, Wait};

pub(crate) fn queue() -> (MsgQueue, String) {
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    let id = q.id().to_string();
    (q, id)
}

pub(crate) fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A server started with the configuration file `conf` (written in `dir`).
pub(crate) fn server_with(exe: &Path, dir: &Path, conf: &str) -> Server {
    let file = dir.join("server.conf");
    std::fs::write(&file, conf).unwrap();
    Server::start(exe, &["-c", &s(&file)])
}

/// Bridges a message from one queue to another through `url` with `auth` (the same
/// for both bridges), and checks it arrives intact.
pub(crate) fn message_crosses(url: &str, auth: &[&str], subject: &str) {
    let ((a, ida), (b, idb)) = (queue(), queue());
    let dir = tempfile::tempdir().unwrap();
    let st = |n: &str| s(&dir.path().join(n));
    let mut o =
        args(&["out", "--queue-id", &ida, "--subject", subject, "--server", url, "--state", &st("o")]);
    let mut i = args(&["in", "--queue-id", &idb, "--subject", subject, "--server", url, "--state", &st("i")]);
    o.extend(args(auth));
    i.extend(args(auth));
    let mut out = Bridge::start(&o, &dir.path().join("out.err"));
    let mut inb = Bridge::start(&i, &dir.path().join("in.err"));
    a.send(b"through the guarded door", 7).unwrap();
    match b.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(30))) {
        Ok(m) => assert_eq!((m.mtype, &m.data[..]), (7, &b"through the guarded door"[..])),
        Err(e) => panic!(
            "{auth:?}: nothing arrived: {e}\nexporter: {:?} {}\nimporter: {:?} {}",
            out.exited(),
            out.stderr(),
            inb.exited(),
            inb.stderr()
        ),
    }
}

/// Runs an exporter with `extra` to its end; it must fail with `want` in its error.
pub(crate) fn refused(extra: &[&str], want: &[&str]) -> String {
    let (_q, id) = queue();
    let dir = tempfile::tempdir().unwrap();
    let st = s(&dir.path().join("state"));
    let mut a = vec!["out", "--queue-id", &id, "--subject", "t.sec", "--state", &st];
    a.extend_from_slice(extra);
    let out = bridge_output(&a);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{extra:?} succeeded: {err}");
    assert_ne!(out.status.code(), Some(0));
    for w in want {
        assert!(err.to_lowercase().contains(&w.to_lowercase()), "{extra:?}: {w:?} not in {err}");
    }
    err
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A certificate authority and a server certificate for 127.0.0.1 signed by it;
/// returns (ca.pem, server.pem, server.key). None when openssl is not installed.
fn certificates(dir: &Path, ca_name: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    if Command::new("openssl").arg("version").output().is_err() {
        return None;
    }
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj"];
    let subj = format!("/CN={ca_name}");
    ca.push(&subj);
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut req = vec!["req", "-subj", "/CN=127.0.0.1"];
    req.extend(ec);
    req.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &req);
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "server.pem",
        ],
    );
    Some((dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key")))
}

#[test]
fn tls_with_a_trusted_authority_carries_and_an_unknown_one_is_refused() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = certificates(dir.path(), "ipckit test CA") else {
        eprintln!("SKIPPED: openssl is not installed");
        return;
    };
    let conf = format!("tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n", s(&cert), s(&key));
    let srv = server_with(&exe, dir.path(), &conf);
    let url = format!("tls://127.0.0.1:{}", srv.port);
    message_crosses(&url, &["--tls-ca", &s(&ca)], "t.tls");

    // A certificate from another authority is not trusted.
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = certificates(other.path(), "some other CA").unwrap();
    refused(&["--server", &url, "--tls-ca", &s(&other_ca)], &["TLS handshake failed", "certificate"]);
    // --require-tls against a server without TLS.
    let plain = Server::start(&exe, &[]);
    refused(&["--server", &plain.url(), "--require-tls"], &["TLS handshake failed"]);
}

#[test]
fn token_right_and_wrong() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    let srv = server_with(&exe, dir.path(), "authorization {\n  token: \"s3cret-token\"\n}\n");
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    std::fs::write(&good, "s3cret-token\n").unwrap();
    std::fs::write(&bad, "guess\n").unwrap();
    message_crosses(&srv.url(), &["--token-file", &s(&good)], "t.token");
    refused(&["--server", &srv.url(), "--token-file", &s(&bad)], &["refused the credentials"]);
    // No credentials at all to a server that wants them.
    refused(&["--server", &srv.url()], &["refused the credentials"]);
}

#[test]
fn user_and_password_right_and_wrong() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    let conf = "authorization {\n  users = [ { user: \"alice\", password: \"right\" } ]\n}\n";
    let srv = server_with(&exe, dir.path(), conf);
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    std::fs::write(&good, "right\n").unwrap();
    std::fs::write(&bad, "wrong\n").unwrap();
    message_crosses(&srv.url(), &["--user", "alice", "--password-file", &s(&good)], "t.userpass");
    refused(
        &["--server", &srv.url(), "--user", "alice", "--password-file", &s(&bad)],
        &["refused the credentials"],
    );
    refused(
        &["--server", &srv.url(), "--user", "mallory", "--password-file", &s(&good)],
        &["refused the credentials"],
    );
}

#[test]
fn nkey_right_and_wrong() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let conf = format!("authorization {{\n  users = [ {{ nkey: \"{}\" }} ]\n}}\n", user.public_key());
    let srv = server_with(&exe, dir.path(), &conf);
    let good = dir.path().join("user.nk");
    let bad = dir.path().join("stranger.nk");
    std::fs::write(&good, format!("{}\n", user.seed().unwrap())).unwrap();
    std::fs::write(&bad, format!("{}\n", stranger.seed().unwrap())).unwrap();
    message_crosses(&srv.url(), &["--nkey", &s(&good)], "t.nkey");
    refused(&["--server", &srv.url(), "--nkey", &s(&bad)], &["refused the credentials"]);
    // Not a seed at all.
    let junk = dir.path().join("junk.nk");
    std::fs::write(&junk, "not a seed\n").unwrap();
    refused(&["--server", &srv.url(), "--nkey", &s(&junk)], &[]);
}

#[test]
fn a_bad_creds_file_is_a_clear_error_naming_it() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&exe, &[]);
    let creds = dir.path().join("me.creds");
    std::fs::write(&creds, "this is not a creds file\n").unwrap();
    refused(&["--server", &srv.url(), "--creds", &s(&creds)], &["read credentials", "me.creds"]);
    let missing = dir.path().join("missing.creds");
    refused(&["--server", &srv.url(), "--creds", &s(&missing)], &["missing.creds"]);
}

#[test]
fn credentials_in_plaintext_to_a_remote_host_are_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "pw\n").unwrap();
    // 192.0.2.1 is TEST-NET-1: nothing answers there, so an attempt to connect would
    // end in a timeout, not in this error.
    let (token, pass) = (s(&token), s(&pass));
    for auth in [vec!["--token-file", &token], vec!["--user", "alice", "--password-file", &pass]] {
        let mut extra = vec!["--server", "nats://192.0.2.1:4222"];
        extra.extend(auth.iter().copied());
        let err = refused(&extra, &["refusing to send credentials over a plaintext connection"]);
        assert!(!err.contains("cannot reach"), "{err}");
    }
    // Credentials inside the URL count too.
    refused(&["--server", "nats://alice:pw@192.0.2.1:4222"], &["refusing to send credentials"]);
    // Asked to, it tries (and, nobody being there, cannot reach the server).
    let err = refused(
        &["--server", "nats://192.0.2.1:4222", "--token-file", &token, "--allow-plaintext-credentials"],
        &["cannot"],
    );
    assert!(!err.contains("refusing"), "{err}");
}
