use super::rid;
use crate::mcp::{filter_tools_list_json, RequestId};

fn hide(names: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |name: &str| !names.contains(&name)
}

fn run(body: &str, ids: &[RequestId], hidden: &'static [&'static str]) -> Option<String> {
    filter_tools_list_json(body.as_bytes(), ids, &hide(hidden))
        .unwrap()
        .map(|bytes| String::from_utf8(bytes).unwrap())
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read","inputSchema":{"type":"object"}},{"name":"rm","description":"x"},{"name":"write","annotations":{"z":1,"a":2}}],"nextCursor":"c2","ttlMs":60000,"_meta":{"k":1e2}}}"#;

#[test]
fn removes_hidden_tools_keeping_everything_else() {
    assert_eq!(
        run(LIST, &[rid("1")], &["rm"]).as_deref(),
        Some(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read","inputSchema":{"type":"object"}},{"name":"write","annotations":{"z":1,"a":2}}],"nextCursor":"c2","ttlMs":60000,"_meta":{"k":1e2}}}"#
        )
    );
    assert_eq!(
        run(LIST, &[rid("1")], &["read", "rm", "write"]).as_deref(),
        Some(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"nextCursor":"c2","ttlMs":60000,"_meta":{"k":1e2}}}"#
        )
    );
    assert_eq!(
        run(LIST, &[rid("1")], &["read"]).as_deref(),
        Some(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm","description":"x"},{"name":"write","annotations":{"z":1,"a":2}}],"nextCursor":"c2","ttlMs":60000,"_meta":{"k":1e2}}}"#
        )
    );
}

#[test]
fn pretty_printed_body() {
    let body = "{\n  \"id\": 1,\n  \"jsonrpc\": \"2.0\",\n  \"result\": {\n    \"tools\": [\n      {\"name\": \"a\"},\n      {\"name\": \"b\"}\n    ]\n  }\n}\n";
    assert_eq!(
        run(body, &[rid("1")], &["a"]).as_deref(),
        Some("{\n  \"id\": 1,\n  \"jsonrpc\": \"2.0\",\n  \"result\": {\n    \"tools\": [{\"name\": \"b\"}]\n  }\n}\n")
    );
}

#[test]
fn nothing_to_change() {
    assert_eq!(run(LIST, &[rid("1")], &[]), None, "all kept");
    assert_eq!(run(LIST, &[rid("2")], &["rm"]), None, "other id");
    assert_eq!(run(LIST, &[rid("\"x\"")], &["rm"]), None, "other id");
    assert_eq!(run(LIST, &[], &["rm"]), None, "no ids");
    assert_eq!(
        run(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}}"#,
            &[rid("1")],
            &["rm"]
        ),
        None
    );
    assert_eq!(
        run(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#,
            &[rid("1")],
            &["rm"]
        ),
        None
    );
    assert_eq!(
        run(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"rm"}}}"#,
            &[rid("1")],
            &["rm"]
        ),
        None
    );
    assert_eq!(
        run(
            r#"{"jsonrpc":"2.0","id":1,"result":{"items":[{"name":"rm"}]}}"#,
            &[rid("1")],
            &["rm"]
        ),
        None
    );
    assert_eq!(
        run(
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
            &[rid("1")],
            &["rm"]
        ),
        None
    );
    assert_eq!(run("[1,\"x\",null]", &[rid("1")], &["rm"]), None);
    assert_eq!(run("\"text\"", &[rid("1")], &["rm"]), None);
}

#[test]
fn ids_match_as_loosely_as_clients() {
    for id in ["\"1\"", "1.0", "1e0", "\" 1 \"", "\"0x1\""] {
        let body = LIST.replacen("\"id\":1", &format!("\"id\":{id}"), 1);
        assert!(run(&body, &[rid("1")], &["rm"]).is_some(), "{id}");
    }
    let body = LIST.replacen("\"id\":1", "\"id\":\"\\u0061\"", 1);
    assert!(run(&body, &[rid("\"a\"")], &["rm"]).is_some());
    // Go clients fold member names.
    let body = LIST.replacen("\"id\":1", "\"ID\":1", 1);
    assert!(run(&body, &[rid("1")], &["rm"]).is_some());
    let body = r#"{"jsonrpc":"2.0","id":1,"Result":{"Tools":[{"name":"rm"},{"name":"ok"}]}}"#;
    assert_eq!(
        run(body, &[rid("1")], &["rm"]).as_deref(),
        Some(r#"{"jsonrpc":"2.0","id":1,"Result":{"Tools":[{"name":"ok"}]}}"#)
    );
    let body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tool\u{17f}\":[{\"name\":\"rm\"}]}}";
    assert!(
        run(body, &[rid("1")], &["rm"]).is_some(),
        "long s folds to s"
    );
}

#[test]
fn batch_responses() {
    let body = r#"[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"},{"name":"a"}]}},{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"rm"}]}},{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"b"},{"name":"rm"}]}}]"#;
    assert_eq!(
        run(body, &[rid("1"), rid("3")], &["rm"]).as_deref(),
        Some(
            r#"[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}]}},{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"rm"}]}},{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"b"}]}}]"#
        )
    );
}

#[test]
fn doubtful_tools_are_dropped() {
    let body = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok"},{"description":"no name"},{"name":5},{"name":null},"rm",null,[{"name":"ok"}],{"name":"ok2","Name":"rm"},{"name":"ok3","NAME":7},{"name":"ok4","Name":"ok4"}]}}"#;
    assert_eq!(
        run(body, &[rid("1")], &["rm"]).as_deref(),
        Some(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok"},{"name":"ok4","Name":"ok4"}]}}"#
        )
    );
}

#[test]
fn escaped_names_are_decoded() {
    let body =
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"n\u0061me":"r\u006d"},{"name":"a\/b"}]}}"#;
    assert_eq!(
        run(body, &[rid("1")], &["rm"]).as_deref(),
        Some(r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a\/b"}]}}"#)
    );
    // Names are exact: no trimming or case folding.
    let body = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"RM"},{"name":" rm"}]}}"#;
    assert_eq!(run(body, &[rid("1")], &["rm"]), None);
    // Escaped member names on the way to the tools.
    let body = r#"{"jsonrpc":"2.0","\u0069d":1,"r\u0065sult":{"t\u006fols":[{"name":"rm"}]}}"#;
    assert_eq!(
        run(body, &[rid("1")], &["rm"]).as_deref(),
        Some(r#"{"jsonrpc":"2.0","\u0069d":1,"r\u0065sult":{"t\u006fols":[]}}"#)
    );
}

#[test]
fn unreadable_bodies_are_errors() {
    let keep = hide(&["rm"]);
    for body in [
        "",
        "{",
        "not json",
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok"}],"tools":[{"name":"rm"}]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok","name":"rm"}]}}"#,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} trailing",
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
    ] {
        let error = filter_tools_list_json(body.as_bytes(), &[rid("1")], &keep).unwrap_err();
        assert!(
            error.to_string().contains("not readable JSON"),
            "{body}: {error}"
        );
    }
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[{{"name":"rm","s":{}{}}}]}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(filter_tools_list_json(deep.as_bytes(), &[rid("1")], &keep).is_err());
    let fine = format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[{{"name":"rm","s":{}{}}}]}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert!(filter_tools_list_json(fine.as_bytes(), &[rid("1")], &keep)
        .unwrap()
        .is_some());
    assert!(filter_tools_list_json(b"{\"a\":\"\xff\"}", &[rid("1")], &keep).is_err());
}

#[test]
fn numbers_and_unicode_survive_untouched() {
    let body = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"},{"name":"é😀","inputSchema":{"maximum":18446744073709551616,"x":0.1000000000000000055511151231257827,"y":-0,"z":1E+2}}]}}"#;
    assert_eq!(
        run(body, &[rid("1")], &["rm"]).as_deref(),
        Some(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"é😀","inputSchema":{"maximum":18446744073709551616,"x":0.1000000000000000055511151231257827,"y":-0,"z":1E+2}}]}}"#
        )
    );
}
