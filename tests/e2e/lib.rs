//! Helpers for driving the `corridor` binary as a child process.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// The corridor binary cargo built next to this test (target/<profile>/corridor).
pub fn corridor_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = dir.join("corridor");
    assert!(
        bin.exists(),
        "{} not built: run the workspace tests (tests/run.sh) so cargo builds it",
        bin.display()
    );
    bin
}

/// Starts `corridor <args>` with its own database and API port, quiet logs; its stdout comes
/// line by line through the receiver (closed when the process closes stdout).
pub fn spawn(args: &[&str], database: &str, port: u16) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(corridor_bin())
        .args(args)
        .env(
            "CORRIDOR_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{database}"),
        )
        .env("CORRIDOR_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn corridor {args:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// A running `corridor dev` stack and the lines it printed up to "Serving". Dropping it (a test
/// that failed half-way) stops the stack, so a leaked gateway cannot keep working on the next
/// run's database.
pub struct DevStack {
    child: Option<Child>,
    pub output: Vec<String>,
    pub base_url: String,
}

impl DevStack {
    /// Starts `corridor dev` on a free port with its own database; waits until it serves.
    pub fn start(database: &str, port: u16) -> DevStack {
        let (mut child, rx) = spawn(&["dev", "--anvil-port", "0"], database, port);
        let mut output = Vec::new();
        // Bounded: the stack deploys contracts and migrates; two minutes is far beyond normal.
        loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    let serving = line.starts_with("Serving");
                    output.push(line);
                    if serving {
                        break;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!(
                        "corridor dev did not reach Serving ({e}); output so far:\n{}",
                        output.join("\n")
                    );
                }
            }
        }
        DevStack {
            child: Some(child),
            output,
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The value printed after a label such as "API key".
    pub fn printed(&self, label: &str) -> String {
        self.output
            .iter()
            .find_map(|l| {
                l.strip_prefix(label)
                    .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
            })
            .unwrap_or_else(|| panic!("{label:?} not printed:\n{}", self.output.join("\n")))
    }

    /// The process id of `corridor dev`.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGINT (Ctrl-C) and waits, bounded, for the process to exit.
    pub fn interrupt(mut self) -> std::process::ExitStatus {
        let child = self.child.take().expect("a running stack");
        match stop(child) {
            Some(status) => status,
            None => panic!("corridor dev did not stop within 10 s of Ctrl-C"),
        }
    }
}

impl Drop for DevStack {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = stop(child);
        }
    }
}

/// Ctrl-C (so the stack stops its own anvil), waited for at most 10 s, then SIGKILL.
fn stop(mut child: Child) -> Option<std::process::ExitStatus> {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    // Wait on a thread so the wait itself can be bounded.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(status) => status.ok(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            None
        }
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `corridor` run as a child process with a fixed environment: admin commands, or `serve`
/// started, SIGKILLed and restarted.
pub struct Gateway {
    pub env: Vec<(String, String)>,
    pub port: u16,
    pub child: Option<Child>,
}

impl Gateway {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(corridor_bin());
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run corridor");
        assert!(
            out.status.success(),
            "corridor {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn start(&mut self) {
        let child = self
            .command(&["serve"])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn corridor serve");
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on unix: no shutdown path runs
            let _ = child.wait();
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls a child process's `/readyz` until it answers 200, at most a minute.
pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "the gateway did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A real anvil (one-second blocks) with the Corridor contracts deployed and funded.
pub async fn local_chain() -> (
    alloy::node_bindings::AnvilInstance,
    corridor_chain::local::DevKeys,
    corridor_chain::local::LocalDeployment,
) {
    use corridor_chain::local;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let anvil = local::spawn_anvil(&root, None).expect("anvil (run npm ci in contracts/)");
    let keys = local::DevKeys::from_anvil(&anvil);
    let deployment = local::deploy(
        anvil.endpoint_url(),
        &keys,
        alloy::primitives::U256::from(10u64.pow(12)),
    )
    .await
    .unwrap();
    (anvil, keys, deployment)
}

/// Drops and creates a database on the local server.
pub async fn fresh_database(name: &str) {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .expect("Postgres at 127.0.0.1:5432 (tests/run.sh starts it)");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.unwrap();
    }
}

/// A key as the `CORRIDOR_*_KEY` settings take it.
pub fn key_hex(key: &alloy::signers::local::PrivateKeySigner) -> String {
    format!("0x{}", alloy::hex::encode(key.to_bytes()))
}

/// How many on-chain payout records the PayoutRouter emitted per payout id.
pub async fn router_records(
    rpc: reqwest::Url,
    router: alloy::primitives::Address,
) -> std::collections::HashMap<[u8; 16], usize> {
    use alloy::providers::{Provider, ProviderBuilder};
    let provider = ProviderBuilder::new().connect_http(rpc);
    let logs = provider
        .get_logs(&alloy::rpc::types::Filter::new().address(router).from_block(0))
        .await
        .unwrap();
    let mut per_payout = std::collections::HashMap::new();
    for log in &logs {
        if let Some(ev) = corridor_chain::router::decode_executed(log.topics(), &log.data().data) {
            *per_payout.entry(ev.payout_id.0).or_default() += 1;
        }
    }
    per_payout
}

/// GET a JSON document with a bearer token (panics on a transport or decoding error).
pub async fn get_json(http: &reqwest::Client, url: &str, bearer: &str) -> serde_json::Value {
    http.get(url)
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POST a JSON body (with an Idempotency-Key when given) and return the status and the JSON
/// answer (panics on a transport or decoding error).
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    idempotency_key: Option<&str>,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut req = http.post(url).json(body);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if let Some(key) = idempotency_key {
        req = req.header("Idempotency-Key", key);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}
