use super::rid;
use crate::mcp::sniff_id;

fn sniff(body: &str) -> Option<String> {
    sniff_id(body.as_bytes()).map(|id| id.as_json().to_string())
}

#[test]
fn finds_the_top_level_id() {
    assert_eq!(
        sniff(r#"{"jsonrpc":"2.0","id":5,"method":"x"}"#).as_deref(),
        Some("5")
    );
    assert_eq!(
        sniff(r#"{"params":{"id":9,"a":[{"id":8}]},"id":"q"}"#).as_deref(),
        Some("\"q\"")
    );
    assert_eq!(
        sniff(r#" {"\u0069d" : "\u0061"}"#).as_deref(),
        Some("\"a\"")
    );
    assert_eq!(sniff("\u{feff}{\"id\":3}").as_deref(), Some("3"));
    // The rest of the body may be broken.
    assert_eq!(sniff(r#"{"id":6,"method":"#).as_deref(), Some("6"));
    assert_eq!(sniff(r#"{"id":6 garbage"#).as_deref(), Some("6"));
    assert_eq!(sniff_id(b"{\"id\":1,\"x\":\"\xff\"}"), Some(rid("1")));
}

#[test]
fn gives_up_when_unsure() {
    for body in [
        "",
        "[]",
        r#"[{"id":1}]"#,
        r#"{"id":1,"id":2}"#,
        r#"{"id":1,"id":1}"#,
        r#"{"id":1,"\u0069d":1}"#,
        r#"{"id":null}"#,
        r#"{"id":1.5}"#,
        r#"{"id":1e2}"#,
        r#"{"id":true}"#,
        r#"{"id":{"id":1}}"#,
        r#"{"id":9007199254740992}"#,
        r#"{"method":"x","#,
        r#"{"a":[[[[ "id":1"#,
        r#"{"id":"\ud800"}"#,
        "{\"id\":\"a\nb\"}",
        "not json",
        r#""id""#,
    ] {
        assert_eq!(sniff(body), None, "{body}");
    }
}

#[test]
fn deep_bodies_are_skipped_without_recursion() {
    let body = format!(r#"{{"params":{}, "id":2}}"#, "[".repeat(200_000));
    assert_eq!(sniff(&body), None);
    let body = format!(
        r#"{{"params":{}{},"id":2}}"#,
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    assert_eq!(sniff(&body).as_deref(), Some("2"));
}
