//! `mcp-policy explain --json` and the filter agree byte for byte: every
//! request of tests/fixtures/agreement/corpus.json goes through the filter
//! (fake host) and through the CLI binary, and both must forward it, or both
//! refuse it with the same status, headers, body and response code details.
//! Spent budgets come from real earlier calls in the filter and from `--used`
//! in the CLI, at the same injected clock.
#![cfg(all(feature = "cli", feature = "fake-host"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use base64::Engine as _;
use mcp_policy_filter::config::Config;
use mcp_policy_filter::filter::HttpFilter;
use mcp_policy_filter::host::fake::FakeHost;
use mcp_policy_filter::host::Action;
use mcp_policy_filter::seal::{Purpose, Sealer};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-policy");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DEFAULT_NOW: u64 = 1_800_000_000;

fn fixture(name: &str) -> PathBuf {
    Path::new(ROOT).join("tests/fixtures/agreement").join(name)
}

fn token(grant: &str) -> String {
    format!("demo-token-{grant}")
}

/// What a request came to: forwarded (with the body sent upstream), or a
/// local reply.
#[derive(Debug, PartialEq)]
enum Fate {
    Forwarded {
        body: String,
    },
    Replied {
        status: u64,
        headers: Value,
        body: String,
        details: String,
    },
}

struct Case {
    name: String,
    grant: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    now: u64,
    used: Vec<(String, u64)>,
}

/// The fixture's session key, to seal ids as the filter would have.
fn sealer() -> Sealer {
    let text = std::fs::read_to_string(fixture("config.json")).expect("config");
    let config: Value = serde_json::from_str(&text).expect("config is JSON");
    let key = config["session_keys"][0].as_str().expect("a session key");
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .expect("base64");
    Sealer::new(vec![key]).expect("a usable key")
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("corpus.json")).expect("corpus");
    let corpus: Vec<Value> = serde_json::from_str(&text).expect("corpus is JSON");
    let sealer = sealer();
    corpus
        .iter()
        .map(|case| Case {
            name: case["name"].as_str().expect("name").to_owned(),
            grant: case["grant"].as_str().expect("grant").to_owned(),
            headers: case["headers"]
                .as_object()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().expect("header").to_owned()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
                .into_iter()
                .chain(case["sealed_session"].as_str().map(|session| {
                    let owner = case["sealed_session_of"]
                        .as_str()
                        .or(case["grant"].as_str())
                        .expect("grant");
                    (
                        "mcp-session-id".to_owned(),
                        sealer.seal(Purpose::Session, owner, session),
                    )
                }))
                .collect(),
            body: match case.get("raw_body") {
                Some(raw) => raw.as_str().expect("raw_body").as_bytes().to_vec(),
                None => case["body"].to_string().into_bytes(),
            },
            now: case["now"].as_u64().unwrap_or(DEFAULT_NOW),
            used: case["used"]
                .as_object()
                .map(|used| {
                    used.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn request_headers(case: &Case) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), "POST".into()),
        (":path".into(), "/mcp".into()),
        ("content-type".into(), "application/json".into()),
    ];
    for (name, value) in &case.headers {
        headers.retain(|(known, _)| known != name);
        headers.push((name.clone(), value.clone()));
    }
    headers.push((
        "authorization".into(),
        format!("Bearer {}", token(&case.grant)),
    ));
    headers
}

fn through_filter(config: &Rc<Config>, host: &FakeHost, case: &Case) -> Fate {
    let mut filter = HttpFilter::new(Rc::clone(config));
    *host.request_headers.borrow_mut() = request_headers(case);
    *host.request_body.borrow_mut() = case.body.clone();
    host.replies.borrow_mut().clear();
    let mut action = filter.on_request_headers(host, false);
    if action == Action::Pause && host.replies.borrow().is_empty() {
        action = filter.on_request_body(host, case.body.len(), true);
    }
    match host.last_reply() {
        Some(reply) => Fate::Replied {
            status: u64::from(reply.status),
            headers: Value::Object(
                reply
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), json!(value)))
                    .collect(),
            ),
            body: String::from_utf8_lossy(&reply.body).into_owned(),
            details: reply.details.to_owned(),
        },
        None => {
            assert_eq!(
                action,
                Action::Continue,
                "{}: neither forwarded nor answered",
                case.name
            );
            Fate::Forwarded {
                body: String::from_utf8_lossy(&host.request_body.borrow()).into_owned(),
            }
        }
    }
}

fn through_explain(case: &Case) -> Fate {
    let dir = std::env::temp_dir().join(format!("mcp-policy-agreement-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let request = dir.join("request.json");
    std::fs::write(&request, &case.body).expect("write request");
    let mut command = Command::new(BIN);
    command
        .arg("explain")
        .arg(fixture("config.json"))
        .arg("--request")
        .arg(&request)
        .args([
            "--grant",
            &case.grant,
            "--json",
            "--now",
            &case.now.to_string(),
        ]);
    for (name, value) in &case.headers {
        command.args(["--header", &format!("{name}: {value}")]);
    }
    for (counter, count) in &case.used {
        command.args(["--used", &format!("{counter}={count}")]);
    }
    let output = command.output().expect("run mcp-policy");
    let explained: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{}: explain printed no JSON ({error}): {}",
            case.name,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    match explained.get("reply").filter(|reply| !reply.is_null()) {
        Some(reply) => Fate::Replied {
            status: reply["status"].as_u64().expect("status"),
            headers: reply["headers"].clone(),
            body: reply["body_text"].as_str().expect("body_text").to_owned(),
            details: reply["details"].as_str().expect("details").to_owned(),
        },
        None => Fate::Forwarded {
            body: explained["forwarded_body"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&case.body).into_owned()),
        },
    }
}

#[test]
fn explain_reports_exactly_what_the_filter_does() {
    let text = std::fs::read_to_string(fixture("config.json")).expect("config");
    let config = Rc::new(Config::from_json_text(&text).expect("config is valid"));
    let mut refused = 0;
    for case in cases() {
        let host = FakeHost::default();
        host.now_millis.set(case.now * 1000);
        for (counter, count) in &case.used {
            for _ in 0..*count {
                let fate = through_filter(&config, &host, &case);
                assert!(
                    matches!(fate, Fate::Forwarded { .. }),
                    "{}: spending {counter} was refused: {fate:?}",
                    case.name
                );
            }
        }
        let filter = through_filter(&config, &host, &case);
        let explain = through_explain(&case);
        assert_eq!(filter, explain, "{}", case.name);
        refused += usize::from(matches!(filter, Fate::Replied { .. }));
    }
    assert!(refused >= 20, "the corpus refuses in {refused} ways only");
}
