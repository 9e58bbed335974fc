//! The webhook verifiers in docs/guides/webhooks.md (Rust, Python, JavaScript) are the files in
//! docs/guides/webhook-verifiers/, shown verbatim in the guide. Each is run here against
//! signatures made by the gateway's own signer: a genuine delivery passes; a changed body, a
//! wrong secret, a stale or malformed timestamp fail; during a secret rotation either
//! signature passes.

use corridor_webhooks::signature::SigningSecret;
use serde_json::{Value, json};
use std::{io::Write, path::PathBuf, process::Command};

#[path = "../../../docs/guides/webhook-verifiers/verify.rs"]
mod rust_verifier;

fn verifiers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/guides/webhook-verifiers")
}

const NOW: i64 = 1_767_225_600;

struct Case {
    name: &'static str,
    secret: String,
    id: String,
    timestamp: String,
    signatures: String,
    body: Vec<u8>,
    valid: bool,
}

fn cases() -> Vec<Case> {
    let secret = SigningSecret::generate();
    let old = SigningSecret::generate();
    let other = SigningSecret::generate();
    let key = SigningSecret::parse(&secret).unwrap();
    let old_key = SigningSecret::parse(&old).unwrap();
    let body = br#"{"type":"payout.completed","timestamp":"2026-01-01T00:00:00Z","data":{"id":"po_1"}}"#.to_vec();
    let id = "msg_01hzzq0000000000000000000".to_owned();
    let sign = |k: &SigningSecret, at: i64, b: &[u8]| k.sign(&id, at, b);
    let case = |name, secret: &str, timestamp: i64, signatures: String, body: &[u8], valid| Case {
        name,
        secret: secret.to_owned(),
        id: id.clone(),
        timestamp: timestamp.to_string(),
        signatures,
        body: body.to_vec(),
        valid,
    };
    let mut tampered = body.clone();
    tampered[40] ^= 1;
    let mut all = vec![
        case("genuine", &secret, NOW, sign(&key, NOW, &body), &body, true),
        case(
            "within tolerance",
            &secret,
            NOW - 299,
            sign(&key, NOW - 299, &body),
            &body,
            true,
        ),
        case(
            "rotation: old and new signature",
            &old,
            NOW,
            format!("{} {}", sign(&key, NOW, &body), sign(&old_key, NOW, &body)),
            &body,
            true,
        ),
        case("body changed", &secret, NOW, sign(&key, NOW, &body), &tampered, false),
        case("wrong secret", &other, NOW, sign(&key, NOW, &body), &body, false),
        case(
            "stale timestamp",
            &secret,
            NOW - 301,
            sign(&key, NOW - 301, &body),
            &body,
            false,
        ),
        case(
            "future timestamp",
            &secret,
            NOW + 301,
            sign(&key, NOW + 301, &body),
            &body,
            false,
        ),
        case(
            "unknown version only",
            &secret,
            NOW,
            sign(&key, NOW, &body).replacen("v1,", "v2,", 1),
            &body,
            false,
        ),
    ];
    all.push(Case {
        timestamp: "12ab".into(),
        name: "malformed timestamp",
        valid: false,
        ..case("", &secret, NOW, sign(&key, NOW, &body), &body, false)
    });
    all
}

fn as_json(cases: &[Case]) -> Value {
    Value::Array(
        cases
            .iter()
            .map(|c| {
                json!({ "secret": c.secret, "now": NOW, "body": String::from_utf8(c.body.clone()).unwrap(),
                        "headers": { "webhook-id": c.id, "webhook-timestamp": c.timestamp,
                                     "webhook-signature": c.signatures } })
            })
            .collect(),
    )
}

/// Runs a driver with the cases on stdin; it prints a JSON array of booleans.
fn run(program: &str, args: &[&str], cases: &[Case]) -> Vec<bool> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(verifiers_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is needed to run the guide's verifier: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(as_json(cases).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} failed");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn check(language: &str, got: &[bool], cases: &[Case]) {
    for (c, ok) in cases.iter().zip(got) {
        assert_eq!(*ok, c.valid, "{language} verifier, case {:?}", c.name);
    }
    assert_eq!(got.len(), cases.len(), "{language}");
}

#[test]
fn the_rust_verifier_accepts_genuine_deliveries_and_nothing_else() {
    let cases = cases();
    let got: Vec<bool> = cases
        .iter()
        .map(|c| rust_verifier::verify(&c.secret, &c.id, &c.timestamp, &c.signatures, &c.body, NOW))
        .collect();
    check("Rust", &got, &cases);
}

#[test]
fn the_python_verifier_accepts_genuine_deliveries_and_nothing_else() {
    let cases = cases();
    let driver = "import json, sys\nfrom verify import verify\ncases = json.load(sys.stdin)\n\
print(json.dumps([verify(c['secret'], c['headers'], c['body'].encode(), c['now']) for c in cases]))";
    check("Python", &run("python3", &["-c", driver], &cases), &cases);
}

#[test]
fn the_javascript_verifier_accepts_genuine_deliveries_and_nothing_else() {
    let cases = cases();
    let driver = "import { verify } from './verify.mjs';\nlet input = '';\nfor await (const chunk of process.stdin) input += chunk;\n\
const cases = JSON.parse(input);\n\
console.log(JSON.stringify(cases.map((c) => verify(c.secret, c.headers, Buffer.from(c.body), c.now))));";
    check(
        "JavaScript",
        &run("node", &["--input-type=module", "-e", driver], &cases),
        &cases,
    );
}

#[test]
fn the_guide_shows_each_verifier_exactly_as_tested() {
    let guide = std::fs::read_to_string(verifiers_dir().join("../webhooks.md")).unwrap();
    for file in ["verify.rs", "verify.py", "verify.mjs"] {
        let code = std::fs::read_to_string(verifiers_dir().join(file)).unwrap();
        assert!(
            guide.contains(code.trim_end()),
            "docs/guides/webhooks.md does not show {file} as it is"
        );
    }
}
