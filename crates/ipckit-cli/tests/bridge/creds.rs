//! `.creds` login against a real nats-server in operator mode: an operator, an
//! account (with JetStream) and users made at test time with the `nkeys` crate, their
//! JWTs signed here (a NATS JWT is `base64url(header).base64url(claims).
//! base64url(ed25519 signature by the issuer's key)`), the account preloaded in the
//! server's memory resolver. A bridge with the right `.creds` carries a message; a
//! `.creds` whose user is signed by an account the server does not know is refused
//! with a clear error and exit status 1.

use std::path::Path;

use base64::Engine;
use nkeys::KeyPair;
use serde_json::json;

use crate::bridge_util::*;
use crate::security::{message_crosses, queue, refused, s, server_with};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT for `subject` (a public key) named `name`, with `nats` as its NATS claims,
/// signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let header = json!({ "typ": "JWT", "alg": "ed25519-nkey" });
    let claims = json!({
        // A unique id for the token (the Go library uses a hash of the claims;
        // the server does not check how it was made).
        "jti": format!("{}{}", now.as_nanos(), subject.get(..12).unwrap_or(subject)),
        "iat": now.as_secs(),
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let signed = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let sig = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", b64(&sig))
}

/// The operator's JWT, self-signed, naming the system account (JetStream needs one).
fn operator_jwt(op: &KeyPair, system: &KeyPair) -> String {
    let nats = json!({ "type": "operator", "version": 2, "system_account": system.public_key() });
    jwt(op, &op.public_key(), "ipckit-test-operator", nats)
}

/// An account JWT, signed by the operator, with JetStream allowed (the bridge needs
/// it) or not (the system account).
fn account_jwt(op: &KeyPair, account: &KeyPair, name: &str, jetstream: bool) -> String {
    let js = if jetstream { -1 } else { 0 };
    let nats = json!({
        "type": "account",
        "version": 2,
        "limits": {
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": js, "disk_storage": js, "streams": js, "consumer": js,
        },
        "default_permissions": { "pub": {}, "sub": {} },
    });
    jwt(op, &account.public_key(), name, nats)
}

/// A user JWT signed by `account`.
fn user_jwt(account: &KeyPair, user: &KeyPair) -> String {
    let nats = json!({
        "type": "user",
        "version": 2,
        "pub": {}, "sub": {},
        "subs": -1, "data": -1, "payload": -1,
    });
    jwt(account, &user.public_key(), "bridge", nats)
}

/// A `.creds` file as `nsc` writes it: the user's JWT and NKey seed.
fn write_creds(path: &Path, jwt: &str, user: &KeyPair) {
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n",
        user.seed().unwrap()
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn creds_login_to_an_operator_mode_server_right_and_wrong() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    let op = KeyPair::new_operator();
    let system = KeyPair::new_account();
    let account = KeyPair::new_account();
    let stranger_account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let conf = format!(
        "operator: {op_jwt}\nsystem_account: {sys}\nresolver: MEMORY\n\
         resolver_preload: {{\n  {sys}: {sys_jwt}\n  {acc}: {acc_jwt}\n}}\n",
        op_jwt = operator_jwt(&op, &system),
        sys = system.public_key(),
        sys_jwt = account_jwt(&op, &system, "SYS", false),
        acc = account.public_key(),
        acc_jwt = account_jwt(&op, &account, "bridges", true),
    );
    let srv = server_with(&exe, dir.path(), &conf);

    let good = dir.path().join("bridge.creds");
    write_creds(&good, &user_jwt(&account, &user), &user);
    message_crosses(&srv.url(), &["--creds", &s(&good)], "t.creds");

    // The same user signed by an account the server does not know.
    let bad = dir.path().join("stranger.creds");
    write_creds(&bad, &user_jwt(&stranger_account, &user), &user);
    let (_q, id) = queue();
    let state = s(&dir.path().join("refused.state"));
    let out = bridge_output(&[
        "out",
        "--queue-id",
        &id,
        "--subject",
        "t.creds",
        "--server",
        &srv.url(),
        "--creds",
        &s(&bad),
        "--state",
        &state,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refused the credentials"), "{err}");
    eprintln!("refused as it should be: {err}");
    // And the server does want credentials: none at all are refused too.
    refused(&["--server", &srv.url()], &["refused the credentials"]);
}
