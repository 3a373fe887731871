use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tiny {
    name: String,
    #[serde(default)]
    expect: Option<u16>,
}

impl Case for Tiny {
    fn name(&self) -> &str {
        &self.name
    }
}

fn write(text: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("tollgate-cases-{}-{n}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
#[should_panic(expected = "unknown field `expcet`")]
fn a_misspelt_key_fails_with_its_path() {
    let path = write("- name: a\n  expcet: 200\n");
    let _: Vec<Tiny> = load(&path);
}

#[test]
fn cases_load_typed() {
    let path = write("- name: a\n  expect: 200\n- name: b\n");
    let cases: Vec<Tiny> = load(&path);
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].expect, Some(200));
    let mut seen = Vec::new();
    run(&path, &cases, |c| {
        seen.push(c.name.clone());
        Vec::new()
    });
    assert_eq!(seen, ["a", "b"]);
}

#[test]
#[should_panic(expected = "1 case(s) failed:\nb: wrong")]
fn a_failing_case_is_named() {
    let cases = vec![
        Tiny {
            name: "a".into(),
            expect: None,
        },
        Tiny {
            name: "b".into(),
            expect: None,
        },
    ];
    run(Path::new("x.yaml"), &cases, |c| {
        if c.name == "b" {
            vec!["wrong".into()]
        } else {
            Vec::new()
        }
    });
}

#[test]
#[should_panic(expected = "two cases named")]
fn duplicate_names_fail() {
    let cases = vec![
        Tiny {
            name: "a".into(),
            expect: None,
        },
        Tiny {
            name: "a".into(),
            expect: None,
        },
    ];
    run(Path::new("x.yaml"), &cases, |_| Vec::new());
}

#[test]
#[should_panic(expected = "needs its line")]
fn an_unlisted_file_fails() {
    let dir = std::env::temp_dir().join(format!("tollgate-cases-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("one.yaml"), "[]").unwrap();
    std::fs::write(dir.join("two.yaml"), "[]").unwrap();
    assert_all_listed(&dir, &["one"]);
}

#[test]
fn raw_and_structured_configs() {
    let cases: Vec<ConfigErrorCase> = serde_norway::from_str(
        "- {name: a, config: {raw: 'not json'}, path: '', contains: x}\n- {name: b, config: {tick_ms: 1}, path: p, contains: y}\n",
    )
    .unwrap();
    assert_eq!(cases[0].config.bytes(), b"not json");
    assert_eq!(cases[1].config.bytes(), br#"{"tick_ms":1}"#);
}
