//! The `tollgate` CLI against a real service: login, policy test and push, config
//! get/set/diff, history, rollback, approvals, audit verify, status; human output,
//! `--json`, and exit codes a script can use.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::service::Service;

struct Cli<'a> {
    home: &'a Path,
    server: String,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .env("TOLLGATE_CONFIG_DIR", self.home)
            .env_remove("TOLLGATE_TOKEN")
            .env_remove("TOLLGATE_SERVER")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    fn code(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_drives_the_whole_flow_with_usable_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("c.db").display());
    let service = Service::start(dir.path(), &storage, &[]);
    let home = dir.path().join("home");
    let cli = Cli {
        home: &home,
        server: service.url.clone(),
    };
    let root = crate::common::repo_root();
    let hcp = root.join("policies/hcp");
    let hcp = hcp.to_str().unwrap();

    // Not logged in: exit 1 (no server known); a wrong token: 5.
    assert_eq!(cli.code(&["status"]).0, 1);
    let bad = dir.path().join("bad.token");
    std::fs::write(&bad, "tgt_00_nope").unwrap();
    assert_eq!(
        cli.code(&[
            "login",
            "--server",
            &cli.server,
            "--token-file",
            bad.to_str().unwrap()
        ])
        .0,
        5
    );
    let admin_file = dir.path().join("admin.token");
    let out = cli.ok(&[
        "login",
        "--server",
        &cli.server,
        "--token-file",
        admin_file.to_str().unwrap(),
    ]);
    assert!(out.contains("logged in"), "{out}");
    let session = std::fs::metadata(home.join("session.json")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(session.permissions().mode() & 0o777, 0o600);

    // Set up a project through the API (the CLI manages documents, not projects).
    let c = reqwest::Client::new();
    for (path, body) in [
        ("/v1/projects/hcp", json!({})),
        ("/v1/projects/hcp/groups/prod-eu", json!({"host": "envoy"})),
        ("/v1/projects/gated", json!({"require_approval": true})),
        ("/v1/projects/gated/groups/g", json!({})),
    ] {
        let r = c
            .put(format!("{}{path}", service.url))
            .bearer_auth(&service.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    // Local policy tests, passing and failing.
    let out = cli.ok(&["policy", "test", hcp]);
    assert!(out.contains("PASS data.hcp.authz_test.test_"), "{out}");
    let failing = dir.path().join("failing");
    std::fs::create_dir_all(failing.join("a")).unwrap();
    std::fs::write(failing.join("a/p.rego"), "package a\n\ntest_no if false\n").unwrap();
    let (code, _) = cli.code(&["policy", "test", failing.to_str().unwrap()]);
    assert_eq!(code, 3);

    // Push: validated, tested, signed; a failing bundle is refused with exit 3.
    let pushed = cli.json(&[
        "policy",
        "push",
        hcp,
        "--project",
        "hcp",
        "--group",
        "prod-eu",
        "-m",
        "first",
    ]);
    assert_eq!(pushed["revision"]["number"], 1);
    assert_eq!(
        cli.code(&[
            "policy",
            "push",
            failing.to_str().unwrap(),
            "--project",
            "hcp",
            "--group",
            "prod-eu",
            "--latest"
        ])
        .0,
        3
    );

    // Configs: set (a second set without a base is 428 → exit 4), get, diff, history.
    let config_path = root.join("deploy/jwt-auth/config.json");
    let config = config_path.to_str().unwrap();
    let doc = [
        "--project",
        "hcp",
        "--group",
        "prod-eu",
        "--filter",
        "jwt-auth",
    ];
    let out = cli.ok(&[
        &["config", "set"][..],
        &doc,
        &[config, "-m", "from deploy/"],
    ]
    .concat());
    assert!(out.contains("revision 1"), "{out}");
    let mut edited: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    edited["providers"]["hcp"]["max_lifetime_seconds"] = json!(600);
    let edited_path = dir.path().join("edited.json");
    std::fs::write(&edited_path, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    let edited_arg = edited_path.to_str().unwrap();
    let (code, err) = cli.code(&[&["config", "set"][..], &doc, &[edited_arg]].concat());
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("If-Match"), "{err}");
    assert_eq!(
        cli.code(
            &[
                &["config", "set"][..],
                &doc,
                &[edited_arg, "--if-match", "7"]
            ]
            .concat()
        )
        .0,
        4
    );
    cli.ok(&[
        &["config", "set"][..],
        &doc,
        &[edited_arg, "--if-match", "1", "-m", "shorter"],
    ]
    .concat());
    let got = cli.json(&[&["config", "get"][..], &doc].concat());
    assert_eq!(
        got["content"]["providers"]["hcp"]["max_lifetime_seconds"],
        600
    );
    let diff = cli.ok(&[&["config", "diff"][..], &doc].concat());
    assert!(
        diff.contains("+      \"max_lifetime_seconds\": 600"),
        "{diff}"
    );
    let history = cli.ok(&[&["history"][..], &doc].concat());
    assert_eq!(history.lines().count(), 2, "{history}");
    assert!(history.contains("shorter"));

    // Rollback, as a new revision.
    let out = cli.json(&[&["rollback"][..], &doc, &["--to", "1", "--latest"]].concat());
    assert_eq!(out["revision"]["number"], 3);
    assert_eq!(out["revision"]["rollback_of"], 1);

    // Approvals: a policy author's push waits; a platform admin approves or rejects.
    let author: Value = c
        .post(format!("{}/v1/tokens", service.url))
        .bearer_auth(&service.admin)
        .json(
            &json!({"subject": "alice", "grants": [{"role": "policy-author", "project": "gated"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let author_cli = Cli {
        home: &dir.path().join("alice"),
        server: service.url.clone(),
    };
    let alice_token = dir.path().join("alice.token");
    std::fs::write(&alice_token, author["token"].as_str().unwrap()).unwrap();
    author_cli.ok(&[
        "login",
        "--server",
        &author_cli.server,
        "--token-file",
        alice_token.to_str().unwrap(),
    ]);
    let proposed = author_cli.json(&["policy", "push", hcp, "--project", "gated", "--group", "g"]);
    let id = proposed["change"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        author_cli.code(&["approve", "--project", "gated", &id]).0,
        5
    );
    let listed = cli.ok(&["changes", "--project", "gated"]);
    assert!(
        listed.contains(&id) && listed.contains("pending"),
        "{listed}"
    );
    let out = cli.ok(&["approve", "--project", "gated", &id]);
    assert!(out.contains("revision 1"), "{out}");
    let again = author_cli.json(&[
        "policy",
        "push",
        &root.join("policies/hcp").to_string_lossy(),
        "--project",
        "gated",
        "--group",
        "g",
        "--latest",
        "-m",
        "same again",
    ]);
    let second = again["change"]["id"].as_str().unwrap().to_string();
    cli.ok(&[
        "reject",
        "--project",
        "gated",
        &second,
        "--reason",
        "nothing changed",
    ]);
    assert_eq!(
        cli.code(&["reject", "--project", "gated", &second, "--reason", "twice"])
            .0,
        4
    );

    // Audit and status.
    let out = cli.ok(&["audit", "verify"]);
    assert!(out.starts_with("audit chain intact"), "{out}");
    let status = cli.ok(&["status"]);
    assert!(
        status.contains("sqlite") && status.contains("hcp"),
        "{status}"
    );
    // The fleet view of a group no gateway has contacted yet.
    let fleet = cli.ok(&["status", "--project", "hcp", "--group", "prod-eu"]);
    assert!(
        fleet.contains("group hcp/prod-eu: jwt-auth") && fleet.contains("0 gateways"),
        "{fleet}"
    );
    let fleet = cli.json(&["status", "--project", "hcp", "--group", "prod-eu"]);
    assert_eq!(fleet["summary"]["gateways"], 0);
    assert_eq!(
        cli.code(&["status", "--project", "hcp"]).0,
        2,
        "--group goes with --project"
    );
    assert_eq!(
        cli.code(&["status", "--project", "hcp", "--group", "nope"])
            .0,
        6
    );
    assert_eq!(
        cli.code(
            &[
                &["config", "get"][..],
                &[
                    "--project",
                    "hcp",
                    "--group",
                    "nope",
                    "--filter",
                    "jwt-auth"
                ]
            ]
            .concat()
        )
        .0,
        6
    );
}
