//! Unit tests of `config`.

use super::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    // Declared so `deny_unknown_fields` accepts it; `load` checks it.
    #[allow(dead_code)]
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    7
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    prefix: String,
}

impl Compile for Root {
    type Compiled = (u32, Vec<String>);
    const VERSION: &'static str = "tollgate.test.v1";
    fn compile(self) -> Result<Self::Compiled, ConfigError> {
        let mut prefixes = Vec::new();
        for (i, rule) in self.rules.into_iter().enumerate() {
            if !rule.prefix.starts_with('/') {
                return Err(
                    ConfigError::new("prefix", "expected a path starting with `/`")
                        .within(&format!("rules[{i}]")),
                );
            }
            prefixes.push(rule.prefix);
        }
        Ok((self.limit, prefixes))
    }
}

#[test]
fn the_version_is_checked_before_the_fields() {
    assert!(load::<Root>(br#"{"version": "tollgate.test.v1", "limit": 1}"#).is_ok());
    let err = load::<Root>(br#"{"version": "tollgate.test.v2", "limt": 1}"#).unwrap_err();
    assert_eq!(err.path, "version");
    assert!(
        err.message
            .contains("reads `tollgate.test.v1`, not `tollgate.test.v2`"),
        "{err}"
    );
    let err = load::<Root>(br#"{"version": 1}"#).unwrap_err();
    assert_eq!(err.path, "version");
    // Malformed documents get the typed parser's error, not a version error.
    let err = load::<Root>(br#"{"version": "tollgate.test.v2""#).unwrap_err();
    assert_eq!(err.path, "");
    assert!(check_version(None, "x").is_ok());
}

#[test]
fn empty_config_uses_defaults() {
    assert_eq!(load::<Root>(b"").unwrap(), (7, vec![]));
    assert_eq!(load::<Root>(b"  \n").unwrap(), (7, vec![]));
}

#[test]
fn unknown_field_names_its_path() {
    let err = load::<Root>(br#"{"rules":[{"prefix":"/a"},{"prefx":"/b"}]}"#).unwrap_err();
    assert_eq!(err.path, "rules[1].prefx");
    assert!(err.message.contains("unknown field `prefx`"), "{err}");
    assert!(err.message.contains("expected `prefix`"), "{err}");
}

#[test]
fn wrong_type_names_its_path() {
    let err = load::<Root>(br#"{"limit":"many"}"#).unwrap_err();
    assert_eq!(err.path, "limit");
    assert!(err.message.contains("expected u32"), "{err}");
}

#[test]
fn compile_errors_name_the_field() {
    let err = load::<Root>(br#"{"rules":[{"prefix":"a"}]}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid config at `rules[0].prefix`: expected a path starting with `/`"
    );
}

#[test]
fn trailing_garbage_and_bad_json_are_errors() {
    assert!(load::<Root>(br#"{} x"#).is_err());
    let err = load::<Root>(b"{").unwrap_err();
    assert!(err.message.contains("EOF"), "{err}");
}

// Only the shape matters here: the fields are parsed, never read.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Keys {
    Dir { key: String },
    Pem { pem: String },
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithChoice {
    keys: Keys,
}

#[test]
fn two_forms_of_a_choice_name_the_field() {
    let err = parse::<WithChoice>(br#"{"keys": {"dir": {"key": "k"}, "pem": {"pem": "p"}}}"#)
        .unwrap_err();
    assert_eq!(err.path, "keys", "{err}");
    assert!(
        err.message
            .starts_with("expected exactly one of the allowed forms"),
        "{err}"
    );
}

#[test]
fn syntax_errors_have_no_path_and_say_where() {
    let err = parse::<Root>(b"{\"limit\": }").unwrap_err();
    assert_eq!(err.path, "");
    assert!(err.message.contains("line 1 column"), "{err}");
    assert!(!err.message.contains("allowed forms"), "{err}");
    let err = parse::<Root>(br#"{"limit": 1"#).unwrap_err();
    assert_eq!(err.path, "");
    let err = parse::<Root>(br#"{"limit": "x"}"#).unwrap_err();
    assert_eq!(err.path, "limit", "a type error names its field");
    let err = parse::<Root>(br#"{"rules": 5}"#).unwrap_err();
    assert_eq!(err.path, "rules");
    // A required field missing at the top: the document, not `.`.
    let err = parse::<WithChoice>(b"{}").unwrap_err();
    assert_eq!(err.path, "", "{err}");
    assert!(err.message.contains("missing field `keys`"), "{err}");
}

#[test]
fn nested_errors_join_index_paths_without_a_dot() {
    assert_eq!(
        ConfigError::new("[2].prefix", "m").within("rules").path,
        "rules[2].prefix"
    );
    assert_eq!(
        ConfigError::new("prefix", "m").within("rules[0]").path,
        "rules[0].prefix"
    );
    assert_eq!(ConfigError::new("", "m").within("rules").path, "rules");
    assert_eq!(ConfigError::new("x", "m").within("").path, "x");
}
