//! Helpers for driving the `corridor` binary as a child process.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
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
