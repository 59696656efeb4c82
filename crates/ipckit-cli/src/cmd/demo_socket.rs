//! The socket parts of `ipckit demo`: `socket` (a server and an unrelated client over
//! a Unix socket, credentials, a pipe end and a memfd channel passed across) and `net`
//! (the C-style sender/receiver pair over TCP on the loopback).
//!
//! A child module of `demo`, so that it shares its narration, helper processes and
//! clean-up registry.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use ipckit::channel::{Channel, ChannelConfig};
use ipckit::pipe::{self, PipeWriter};
use ipckit::socket::{Framed, UnixListener, UnixStream};

use super::{Kid, Score, say, temp_dir};
use crate::Fail;

const CHANNEL_MESSAGES: u32 = 3;

pub(super) fn part_socket() -> Result<(), Fail> {
    let (dir, _made_dir) = temp_dir()?;
    let path = dir.path().join("demo.sock");
    let listener = UnixListener::bind(&path)?;
    say(
        "server",
        format!("socket(AF_UNIX, SOCK_STREAM) + bind(\"{}\") + listen(): a socket file", path.display()),
    )?;
    let p = path.display().to_string();
    let client = Kid::start("socket-client", &[p], Stdio::null(), Stdio::inherit())?;
    say(
        "server",
        format!("started client {}: not our child's copy of anything, only the path", client.pid()),
    )?;
    let conn = listener.accept()?;
    let peer = conn.peer_credentials()?;
    say("server", format!("accept4() = a connection; getsockopt(SO_PEERCRED) = {peer}"))?;
    if peer.pid != client.pid() {
        return Err(Fail::Msg(format!("the peer is pid {}, not the client {}", peer.pid, client.pid())));
    }
    say("server", "the kernel vouches for these: the peer is the client we started")?;

    let (reader, writer) = pipe::pipe()?;
    say("server", "pipe(fds); sendmsg(conn, \"ipckit:pipe-w\", SCM_RIGHTS [fds[1]]); close(fds[1])")?;
    conn.send_handle(&writer)?;
    drop(writer);
    for line in BufReader::new(reader).lines() {
        say(
            "server",
            format!("read(fds[0]) -> \"{}\"  (written by the client through the passed end)", line?),
        )?;
    }

    let channel = Channel::create_memfd(&ChannelConfig::new().with_capacity(64 * 1024))?;
    let mut rx = channel.receiver()?;
    say("server", "memfd_create() + mmap(): a shared-memory channel with no name anywhere")?;
    say("server", "sendmsg(conn, \"ipckit:channel\", SCM_RIGHTS [memfd])")?;
    conn.send_handle(&channel)?;
    let mut buf = vec![0u8; rx.max_message()];
    for _ in 0..CHANNEL_MESSAGES {
        let n = rx.recv(&mut buf)?;
        say("server", format!("channel recv -> \"{}\"", String::from_utf8_lossy(&buf[..n])))?;
    }
    client.finish("socket client")?;
    drop(listener);
    say("server", format!("close(); unlink(\"{}\")", path.display()))
}

pub(super) fn part_net() -> Result<(), Fail> {
    let receiver = Kid::start("net-receiver", &[], Stdio::null(), Stdio::piped())?;
    let mut receiver = receiver;
    let out = receiver.child.stdout.take().ok_or_else(|| Fail::Msg("the receiver has no stdout".into()))?;
    let mut lines = BufReader::new(out).lines();
    let addr = match lines.next() {
        Some(Ok(l)) if l.starts_with("ADDR ") => l[5..].to_string(),
        other => return Err(Fail::Msg(format!("the receiver did not say where it listens: {other:?}"))),
    };
    say("parent", format!("started receiver {}: it listens on TCP {addr}", receiver.pid()))?;
    // The receiver's narration, passed on as it comes.
    let relay = std::thread::spawn(move || -> std::io::Result<()> {
        for line in lines {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", line?)?;
            out.flush()?;
        }
        Ok(())
    });
    let sender = Kid::start("net-sender", std::slice::from_ref(&addr), Stdio::null(), Stdio::inherit())?;
    say("parent", format!("started sender {}: it connects to {addr}", sender.pid()))?;
    sender.finish("TCP sender")?;
    relay.join().map_err(|_| Fail::Msg("the relay of the receiver's output failed".into()))??;
    receiver.finish("TCP receiver")?;
    say(
        "parent",
        "the same two programs run on two hosts unchanged: give the receiver 0.0.0.0:PORT and the sender HOST:PORT",
    )
}

/// The helper roles of the socket parts; `None` if `role` is not one of them.
pub(super) fn role(role: &str, args: &[String]) -> Option<Result<(), Fail>> {
    let r = match role {
        "socket-client" => socket_client(args),
        "net-receiver" => net_receiver(),
        "net-sender" => net_sender(args),
        _ => return None,
    };
    Some(r)
}

fn socket_client(args: &[String]) -> Result<(), Fail> {
    let path = args.first().ok_or_else(|| Fail::Msg("socket-client: no path".into()))?;
    let conn = UnixStream::connect(path.as_str())?;
    say("client", format!("socket(AF_UNIX, SOCK_STREAM) + connect(\"{path}\")"))?;
    let mut w: PipeWriter = conn.recv_handle()?;
    say(
        "client",
        "recvmsg(MSG_CMSG_CLOEXEC) -> a pipe write end, checked: fstat says FIFO, opened for writing",
    )?;
    writeln!(w, "hello through a pipe end that crossed a socket")?;
    say("client", "write(fd, \"hello through a pipe end that crossed a socket\\n\"); close(fd)")?;
    drop(w);
    let channel: Channel = conn.recv_handle()?;
    say("client", "recvmsg -> a memfd; mmap() + the channel's header checked (magic, version, sizes)")?;
    let mut tx = channel.sender()?;
    for i in 1..=CHANNEL_MESSAGES {
        let text = format!("message {i} through the handed-over channel");
        tx.send(text.as_bytes())?;
        say("client", format!("channel send \"{text}\""))?;
    }
    Ok(())
}

fn net_receiver() -> Result<(), Fail> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ADDR {addr}")?;
        out.flush()?;
    }
    say("receiver", format!("socket(AF_INET, SOCK_STREAM) + bind({addr}) + listen()"))?;
    let (stream, from) = listener.accept()?;
    let mut rx = Framed::new(stream)?;
    say("receiver", format!("accept() = a connection from {from}; TCP_NODELAY on"))?;
    loop {
        match rx.recv_pod::<Score>() {
            Ok(s) => {
                let end = s.name.iter().position(|b| *b == 0).unwrap_or(s.name.len());
                say(
                    "receiver",
                    format!(
                        "frame of {} bytes -> name \"{}\", math {}, chinese {}",
                        std::mem::size_of::<Score>(),
                        String::from_utf8_lossy(&s.name[..end]),
                        s.math,
                        s.chinese
                    ),
                )?;
            }
            Err(e) if e.kind() == ipckit::ErrorKind::Disconnected => {
                say("receiver", "recv() = 0 between frames: the sender closed the connection")?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn net_sender(args: &[String]) -> Result<(), Fail> {
    let addr = args.first().ok_or_else(|| Fail::Msg("net-sender: no address".into()))?;
    let mut tx = Framed::connect_tcp(addr.as_str())?;
    say("sender", format!("connect({addr}); setsockopt(TCP_NODELAY, 1)"))?;
    for (who, math, chinese) in [("alan", 90, 80), ("grace", 95, 88)] {
        let mut name = [0u8; 32];
        name[..who.len()].copy_from_slice(who.as_bytes());
        tx.send_pod(&Score { name, math, chinese })?;
        say(
            "sender",
            format!(
                "send(4-byte length {}, then the struct {{ \"{who}\", {math}, {chinese} }})",
                std::mem::size_of::<Score>()
            ),
        )?;
    }
    say("sender", "close()")
}
