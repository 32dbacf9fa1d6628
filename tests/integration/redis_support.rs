//! A real `redis-server` for the Redis backend tests: on a free port, in a temporary
//! directory, stopped (and its directory removed) when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `redis-server` may take to answer `PING` after it starts.
const START: Duration = Duration::from_secs(10);

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    append_only: bool,
}

impl RedisServer {
    /// Starts a server with no snapshots, and with the append-only file (AOF, fsync on every
    /// write) if `append_only`.
    pub fn start(append_only: bool) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port();
        let mut server = RedisServer { child: None, port, dir: tempfile::tempdir().expect("a temp dir"), append_only };
        server.spawn();
        server
    }

    /// The URL replicas connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) {
        let append_only = if self.append_only { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .args(["--appendonly", append_only, "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/test.sh installs it)");
        self.child = Some(child);
        let started = Instant::now();
        while !self.answers_ping() {
            assert!(started.elapsed() < START, "redis-server did not answer PING within {START:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
    }

    /// Stops the server the way an operator does (`SIGTERM`: with AOF on, everything written
    /// is on disk) and waits until it has exited.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = libc::pid_t::try_from(child.id()).expect("a pid");
            // SAFETY: kill(2) on the pid of our own child, which has not been waited for yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (and AOF, if on).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `wasimoff-provider` process (WebSocket) joined to the broker at `url`, killed when dropped.
pub struct NativeProvider(Child);

impl NativeProvider {
    /// Starts one with `workers` workers named `name`; `url` is the broker's provider
    /// WebSocket URL (`ws://…/wasimoff/provider/ws`).
    pub fn join(url: &str, name: &str, workers: u32) -> NativeProvider {
        let child = Command::new(env!("CARGO_BIN_EXE_wasimoff-provider"))
            .args([url, "--workers", &workers.to_string(), "--name", name, "--transport", "websocket"])
            .stderr(Stdio::null())
            .spawn()
            .expect("start wasimoff-provider");
        NativeProvider(child)
    }
}

impl Drop for NativeProvider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
