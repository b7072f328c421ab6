//! The real `trainyard` binary as a user runs it: no settings but what a test gives, a
//! free port, a folder of its own.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The binary with none of the caller's trainyard settings.
pub fn trainyard(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainyard"));
    cmd.current_dir(dir);
    without_callers_settings(&mut cmd);
    cmd
}

fn without_callers_settings(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("TRAINYARD_") || name == "DATABASE_URL" || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
}

pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// `trainyard serve` in `dir` with `extra_env`, once it answers `/healthz`.
    pub async fn start(dir: &Path, extra_env: &[(&str, &str)]) -> Server {
        Server::start_with(trainyard(dir), extra_env).await
    }

    /// [`Server::start`] in a process that may open at most `files` files (sockets included).
    pub async fn start_with_open_files(
        dir: &Path,
        files: u32,
        extra_env: &[(&str, &str)],
    ) -> Server {
        let mut shell = Command::new("sh");
        shell
            .current_dir(dir)
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_trainyard"));
        without_callers_settings(&mut shell);
        Server::start_with(shell, extra_env).await
    }

    async fn start_with(mut cmd: Command, extra_env: &[(&str, &str)]) -> Server {
        // HTTPS-capable clients need rustls's provider, as the binary installs it.
        trainyard::chat::install_tls_provider();
        let port = free_port();
        cmd.arg("serve")
            .env("TRAINYARD_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn trainyard");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if reqwest::get(format!("{}/healthz", server.base))
                .await
                .is_ok()
            {
                return server;
            }
            assert!(Instant::now() < deadline, "server did not start in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    pub async fn post(&self, path: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .body("{}")
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Sends SIGTERM and returns the exit status and everything printed.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = self.child.wait().expect("wait");
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            stdout.read_to_string(&mut out).expect("stdout");
        }
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut out).expect("stderr");
        }
        (status, out)
    }
}
