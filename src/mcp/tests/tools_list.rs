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

/// The rewrite as first written, on the parsed tree: the oracle for the
/// one-pass cut.
mod tree_reference {
    use serde_json::Value;

    use crate::mcp::case_fold::folds_to;
    use crate::mcp::request_id::{response_id_matches, RequestId};

    pub fn rewrite(value: &Value, ids: &[RequestId], keep: &dyn Fn(&str) -> bool) -> Value {
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| response(item, ids, keep)).collect())
            }
            other => response(other, ids, keep),
        }
    }

    fn response(item: &Value, ids: &[RequestId], keep: &dyn Fn(&str) -> bool) -> Value {
        let Some(object) = item.as_object() else {
            return item.clone();
        };
        if !object
            .iter()
            .any(|(key, id)| folds_to(key, "id") && response_id_matches(ids, id))
        {
            return item.clone();
        }
        let mut out = object.clone();
        for (key, result) in out.iter_mut() {
            let Some(result) = result.as_object_mut().filter(|_| folds_to(key, "result")) else {
                continue;
            };
            for (key, tools) in result.iter_mut() {
                if let Some(tools) = tools.as_array_mut().filter(|_| folds_to(key, "tools")) {
                    tools.retain(|tool| kept(tool, keep));
                }
            }
        }
        Value::Object(out)
    }

    fn kept(tool: &Value, keep: &dyn Fn(&str) -> bool) -> bool {
        let Some(tool) = tool.as_object() else {
            return false;
        };
        let Some(Value::String(name)) = tool.get("name") else {
            return false;
        };
        keep(name)
            && tool
                .iter()
                .filter(|(key, _)| key.as_str() != "name" && folds_to(key, "name"))
                .all(|(_, variant)| variant.as_str().is_some_and(keep))
    }
}

mod walk_matches_the_tree {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::tree_reference;
    use crate::mcp::{filter_tools_list_json, RequestId};

    fn tool() -> impl Strategy<Value = Value> {
        let name = prop_oneof![
            Just(json!("a")),
            Just(json!("hidden")),
            Just(json!("b")),
            Just(json!(5)),
            Just(json!(null)),
        ];
        let key = prop_oneof![
            Just("name"),
            Just("Name"),
            Just("NAME"),
            Just("title"),
            Just("inputSchema")
        ];
        prop_oneof![
            4 => proptest::collection::vec((key, name), 0..3).prop_map(|members| {
                let mut tool = serde_json::Map::new();
                for (key, value) in members {
                    tool.insert(key.to_string(), value);
                }
                Value::Object(tool)
            }),
            1 => Just(json!("a")),
            1 => Just(json!([{"name": "hidden"}])),
        ]
    }

    fn response() -> impl Strategy<Value = Value> {
        let id_key = prop_oneof![Just("id"), Just("ID"), Just("idx")];
        let id = prop_oneof![
            Just(json!(1)),
            Just(json!("1")),
            Just(json!(2)),
            Just(json!(1.0)),
            Just(json!([1]))
        ];
        let result_key = prop_oneof![Just("result"), Just("Result"), Just("error")];
        let tools_key = prop_oneof![Just("tools"), Just("Tools"), Just("nextCursor")];
        (
            proptest::collection::vec((id_key, id), 0..4),
            proptest::collection::vec(
                (
                    result_key,
                    proptest::collection::vec(
                        (tools_key, proptest::collection::vec(tool(), 0..4)),
                        0..3,
                    ),
                ),
                0..2,
            ),
        )
            .prop_map(|(ids, results)| {
                let mut response = serde_json::Map::new();
                response.insert("jsonrpc".into(), json!("2.0"));
                for (key, value) in ids {
                    response.insert(key.to_string(), value);
                }
                for (key, members) in results {
                    let mut result = serde_json::Map::new();
                    for (tools_key, tools) in members {
                        result.insert(tools_key.to_string(), Value::Array(tools));
                    }
                    response.insert(key.to_string(), Value::Object(result));
                }
                Value::Object(response)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn same_tools_removed(
            responses in proptest::collection::vec(response(), 1..3),
            batch in any::<bool>(),
            pretty in any::<bool>(),
        ) {
            let value = if batch || responses.len() > 1 {
                Value::Array(responses)
            } else {
                responses.into_iter().next().unwrap_or(Value::Null)
            };
            let body = if pretty {
                serde_json::to_vec_pretty(&value).unwrap()
            } else {
                serde_json::to_vec(&value).unwrap()
            };
            let ids = [RequestId::from_integer(1).unwrap()];
            let keep = |name: &str| name != "hidden";
            let expected = tree_reference::rewrite(&value, &ids, &keep);
            match filter_tools_list_json(&body, &ids, &keep).unwrap() {
                None => prop_assert_eq!(&expected, &value),
                Some(out) => {
                    prop_assert_ne!(&expected, &value);
                    let after: Value = serde_json::from_slice(&out).unwrap();
                    prop_assert_eq!(after, expected);
                }
            }
        }

        /// A mutated body is refused exactly when the strict parser refuses
        /// it; what is accepted is cut as the tree says.
        #[test]
        fn mutated_bodies_are_refused_as_strictly_as_the_parser(
            response in response(),
            at in 0..400usize,
            insert in prop_oneof![
                Just(","), Just("}"), Just("]"), Just("\""), Just(" "), Just("\\"),
                Just(",\"id\":1"), Just(",\"name\":\"x\""), Just("1e999"), Just("\u{0}"),
            ],
            remove in 0..3usize,
        ) {
            let text = response.to_string();
            let at = at.min(text.len());
            let end = (at + remove).min(text.len());
            let mutated = format!("{}{}{}", &text[..at], insert, &text[end..]);
            let ids = [RequestId::from_integer(1).unwrap()];
            let keep = |name: &str| name != "hidden";
            let strict = crate::mcp::strict_json::parse_strict(mutated.as_bytes(), crate::mcp::RESPONSE_MAX_DEPTH);
            match (filter_tools_list_json(mutated.as_bytes(), &ids, &keep), strict) {
                (Err(_), Err(_)) => {}
                (Ok(out), Ok(value)) => {
                    let expected = tree_reference::rewrite(&value, &ids, &keep);
                    let after = match out {
                        None => value,
                        Some(out) => serde_json::from_slice(&out).unwrap(),
                    };
                    prop_assert_eq!(after, expected);
                }
                (filtered, strict) => prop_assert!(false, "{mutated}: {filtered:?} but {strict:?}"),
            }
        }
    }
}
