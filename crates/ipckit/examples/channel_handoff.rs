//! Two unrelated processes share a shared-memory channel that has no name anywhere.
//!
//! ```text
//! channel_handoff            # runs both sides: it spawns itself as the client
//! ```
//!
//! The server creates a channel in an anonymous memfd and listens on a Unix socket in
//! a private temporary directory. It spawns a new program (itself, with the argument
//! `client SOCKET`: spawned, not forked, so it inherits nothing), accepts its
//! connection, checks with `SO_PEERCRED` that the peer is the process it spawned, and
//! hands it the channel's descriptor. The client rebuilds the channel from the
//! descriptor (checking its header), takes the sending end and sends messages; the
//! server receives them. Nothing was created in `/dev/shm` or System V: when both
//! processes exit, the channel is gone.

use std::process::{Command, ExitCode};

use ipckit::channel::{Channel, ChannelConfig};
use ipckit::socket::{UnixListener, UnixStream};

const MESSAGES: u32 = 5;

fn server() -> Result<(), Box<dyn std::error::Error>> {
    let channel = Channel::create_memfd(&ChannelConfig::new().with_capacity(64 * 1024))?;
    let mut rx = channel.receiver()?;
    println!("server: created a channel in a memfd ({} bytes of ring), with no name", channel.capacity());
    let dir = tempfile_dir()?;
    let path = dir.join("handoff.sock");
    let listener = UnixListener::bind(&path)?;
    println!("server: listening on {}", path.display());
    let mut child = Command::new(std::env::current_exe()?).arg("client").arg(&path).spawn()?;
    println!("server: spawned the client, pid {}", child.id());
    let conn = listener.accept()?;
    let peer = conn.peer_credentials()?;
    println!("server: accepted a connection from peer {peer}");
    if peer.pid != child.id() {
        return Err(format!("the peer is pid {}, not the client {} we spawned", peer.pid, child.id()).into());
    }
    conn.send_handle(&channel)?;
    println!("server: handed the channel's descriptor over the socket (SCM_RIGHTS)");
    let mut buf = vec![0u8; rx.max_message()];
    for _ in 0..MESSAGES {
        let n = rx.recv(&mut buf)?;
        println!("server: received through the channel: {}", String::from_utf8_lossy(&buf[..n]));
    }
    let status = child.wait()?;
    println!("server: the client exited ({status})");
    drop(listener);
    std::fs::remove_dir(&dir)?;
    if !status.success() {
        return Err("the client failed".into());
    }
    Ok(())
}

fn client(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let conn = UnixStream::connect(path)?;
    let channel: Channel = conn.recv_handle()?;
    println!("client: received a channel ({} bytes of ring) over the socket", channel.capacity());
    let mut tx = channel.sender()?;
    for i in 1..=MESSAGES {
        tx.send(format!("message {i} of {MESSAGES} from pid {}", std::process::id()).as_bytes())?;
    }
    println!("client: sent {MESSAGES} messages");
    Ok(())
}

/// A new private directory under the system's temporary directory (mode 0700).
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let dir = base.join(format!("ipckit-handoff-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary directory name"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => server(),
        [role, path] if role == "client" => client(path),
        _ => {
            eprintln!("usage: channel_handoff");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("channel_handoff: {e}");
            ExitCode::FAILURE
        }
    }
}
