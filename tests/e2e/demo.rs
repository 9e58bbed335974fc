//! The guided demo from the README, run as a newcomer runs it: `corridor demo` on a fresh
//! stack. The demo checks each step's effect itself (balances, chain state, statuses) and exits
//! non-zero when one is missing; this test holds it to every step having been narrated and
//! checked, and to stopping cleanly with `--exit`.

use corridor_e2e::{free_port, spawn};
use std::{
    sync::mpsc,
    time::{Duration, Instant},
};

/// The demo waits a minute for its yield period to settle; five is far beyond normal.
const DEMO_DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn the_guided_demo_runs_every_step_and_checks_it() {
    let (mut child, rx) = spawn(&["demo", "--exit"], "corridor_e2e_demo", free_port());
    let started = Instant::now();
    let mut output = Vec::new();
    loop {
        let left = DEMO_DEADLINE.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => output.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!(
                    "corridor demo did not finish in {DEMO_DEADLINE:?}:\n{}",
                    output.join("\n")
                );
            }
        }
    }
    let status = child.wait().expect("wait for corridor demo");
    let text = output.join("\n");
    assert!(status.success(), "corridor demo failed ({status:?}):\n{text}");
    for expected in [
        "detected by the watcher",
        "invoice paid, amount_paid 1250.000000; available USDC 10000.000000 → 11250.000000",
        "on chain the supplier's address holds 250000000 base units",
        "rejected with sanctions_blocked: the address belongs to LAZARUS GROUP",
        "officer1 approves: still held, 1 approval missing",
        "409 four_eyes_same_reviewer",
        "officer2 approves: the payout clears",
        "RAMP-DEMO-1 matched three ways",
        "net \"4.500000\" credited",
        "Demo complete",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from the demo's output:\n{text}"
        );
    }
    // The invoice payment into the treasury is invoicing's, not an exception for treasury.
    assert!(!text.contains("exception for treasury's queue"), "{text}");
    assert!(!text.contains("keeps serving"), "--exit stops after the tour:\n{text}");
}
