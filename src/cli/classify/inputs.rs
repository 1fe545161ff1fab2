//! What a tool's `inputSchema` tells the classifier: the names of its
//! top-level arguments, and the string values their `enum`s allow.

use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Top-level argument names.
    pub names: Vec<String>,
    /// `(argument, value)` for each string value of a top-level `enum`.
    pub choices: Vec<(String, String)>,
}

impl Inputs {
    /// Reads the `inputSchema` of a tool from `tools/list` (anything else
    /// reads as no arguments).
    pub fn from_schema(schema: Option<&Value>) -> Inputs {
        let Some(properties) = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
        else {
            return Inputs::default();
        };
        let mut inputs = Inputs::default();
        for (name, property) in properties {
            inputs.names.push(name.clone());
            let values = property
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            inputs
                .choices
                .extend(values.map(|value| (name.clone(), value.to_owned())));
        }
        inputs
    }

    /// Inputs given as argument names and `(argument, value)` choices.
    #[cfg(test)]
    pub fn new(names: &[&str], choices: &[(&str, &str)]) -> Inputs {
        Inputs {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            choices: choices
                .iter()
                .map(|(a, v)| ((*a).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_argument_names_and_enum_values() {
        let schema = json!({"type": "object", "properties": {
            "groupJid": {"type": "string"},
            "action": {"type": "string", "enum": ["add", "remove", 3]},
        }});
        let inputs = Inputs::from_schema(Some(&schema));
        let mut names = inputs.names.clone();
        names.sort();
        assert_eq!(names, ["action", "groupJid"]);
        assert_eq!(
            inputs.choices,
            [
                ("action".to_owned(), "add".to_owned()),
                ("action".to_owned(), "remove".to_owned())
            ]
        );
    }

    #[test]
    fn anything_else_is_no_arguments() {
        for schema in [
            json!({"type": "object"}),
            json!("x"),
            json!({"properties": []}),
        ] {
            assert_eq!(Inputs::from_schema(Some(&schema)), Inputs::default());
        }
        assert_eq!(Inputs::from_schema(None), Inputs::default());
    }
}
