//! Validation with the filters' own config code: one definition of "valid".

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use tollgate_kit::HostKind;

/// The host a config is meant for, by name (`envoy`, `kong`, `apisix`).
pub fn host_kind(name: &str) -> Result<HostKind> {
    match name {
        "envoy" => Ok(HostKind::Envoy),
        "kong" => Ok(HostKind::Kong),
        "apisix" => Ok(HostKind::Apisix),
        other => bail!("unknown host `{other}` (envoy, kong or apisix)"),
    }
}

/// Checks `bytes` as the named filter's config for `host`, with the filter's own code;
/// returns what the filter would warn about at configure time. The error names the
/// field's path.
pub fn check(filter: &str, bytes: &[u8], host: HostKind) -> Result<Vec<String>> {
    let Some(entry) = tollgate_catalog::find(filter) else {
        bail!("unknown filter `{filter}`")
    };
    Ok(entry.check(bytes, host)?)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(bytes)
}

pub fn run(filter: &str, path: &Path, host: &str) -> Result<()> {
    let bytes = read(path)?;
    let warnings = check(filter, &bytes, host_kind(host)?)?;
    for w in &warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    if filter == "rego-authz" {
        let report =
            tollgate_rego_authz::runner::check_config(&bytes).map_err(anyhow::Error::msg)?;
        print_tests(path, &report)?;
    }
    println!("{}: valid {filter} config for {host}", path.display());
    Ok(())
}

/// Prints each policy test and fails when one did.
fn print_tests(path: &Path, report: &tollgate_rego_authz::runner::Report) -> Result<()> {
    for r in &report.results {
        match &r.failure {
            None => println!("PASS {} ({:?})", r.name, r.duration),
            Some(why) => println!("FAIL {}: {why}", r.name),
        }
    }
    let failed = report.failed();
    if failed > 0 {
        bail!(
            "{}: {failed} of {} policy tests failed",
            path.display(),
            report.results.len()
        );
    }
    Ok(())
}

/// `tollgate validate --bundle PATH`: an OPA bundle (directory or `.tar.gz`) read,
/// compiled and tested as rego-authz will run it.
pub fn run_bundle(path: &Path) -> Result<()> {
    let report = tollgate_rego_authz::runner::check_bundle(path).map_err(anyhow::Error::msg)?;
    print_tests(path, &report)?;
    println!(
        "{}: valid bundle ({} modules{}; {} tests passed)",
        path.display(),
        report.modules,
        report
            .revision
            .as_ref()
            .map_or(String::new(), |r| format!(", revision {r}")),
        report.results.len()
    );
    Ok(())
}

/// The stream property jwt-auth fills with a verified token's full claims, passwords
/// included. Envoy keeps it as filter state under this key.
const CREDENTIALS_FILTER_STATE: &str = "wasm.tollgate_credentials";

/// What is dangerous in an Envoy bootstrap (YAML or JSON) that runs Tollgate's filters:
/// a format string (access log, `request_headers_to_add`, …) that prints the
/// credentials filter state would write users' passwords to a log or a header. One
/// line per finding, with its line number; empty when there is nothing to say.
pub fn envoy_warnings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("FILTER_STATE(") {
            let args = rest.get(at + "FILTER_STATE(".len()..).unwrap_or_default();
            let key = args.split([')', ':']).next().unwrap_or_default().trim();
            if key == CREDENTIALS_FILTER_STATE || key.ends_with("tollgate_credentials") {
                out.push(format!(
                    "line {}: %FILTER_STATE({key})% prints jwt-auth's credentials property, \
                     which holds users' passwords in clear; remove it (log the payload \
                     header or chosen claims instead)",
                    i + 1
                ));
            }
            rest = args;
        }
    }
    out
}

/// `tollgate validate --envoy FILE`: lints an Envoy bootstrap. Warnings go to stderr;
/// with `strict` they fail the command.
pub fn run_envoy(path: &Path, strict: bool) -> Result<()> {
    let text = String::from_utf8(read(path)?).context("the Envoy config is not UTF-8")?;
    let warnings = envoy_warnings(&text);
    for w in &warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    if strict && !warnings.is_empty() {
        bail!("{} warning(s) in {}", warnings.len(), path.display());
    }
    println!("{}: no credential leaks found", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn bundles_are_compiled_and_their_tests_run() {
        // A directory, and the same bundle as a .tar.gz.
        run_bundle(&repo().join("policies/hcp")).unwrap();
        let files = tollgate_rego_authz::bundle::Files::from_dir(
            &repo().join("policies/hcp"),
            tollgate_rego_authz::bundle::Limits::default(),
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!("tollgate-validate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let packed = dir.join("hcp.tar.gz");
        std::fs::write(&packed, files.to_tar_gz().unwrap()).unwrap();
        run_bundle(&packed).unwrap();
        // A failing test fails validation, and so does a policy that does not compile.
        let mut broken = files.clone();
        broken.0.insert(
            "hcp/extra_test.rego".into(),
            b"package hcp.extra_test\nimport rego.v1\ntest_fails if false\n".to_vec(),
        );
        std::fs::write(&packed, broken.to_tar_gz().unwrap()).unwrap();
        let err = run_bundle(&packed).unwrap_err().to_string();
        assert!(err.contains("1 of 11 policy tests failed"), "{err}");
        let mut bad = files.clone();
        bad.0.insert(
            "hcp/bad.rego".into(),
            b"package hcp.bad\nallow if {\n".to_vec(),
        );
        std::fs::write(&packed, bad.to_tar_gz().unwrap()).unwrap();
        let err = run_bundle(&packed).unwrap_err().to_string();
        assert!(err.contains("hcp/bad.rego:"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rego_authz_config_is_checked_and_its_policy_tested() {
        let config = repo().join("deploy/rego-authz/config.json");
        run("rego-authz", &config, "envoy").unwrap();
        run("rego-authz", &config, "apisix").unwrap();
    }

    #[test]
    fn validation_uses_the_filters_rules() {
        assert!(check("nope", b"{}", HostKind::Envoy).is_err());
        assert!(
            check("conformance", b"{}", HostKind::Envoy).is_err(),
            "not a product filter"
        );
        let err = check("jwt-auth", br#"{"providers": {}}"#, HostKind::Envoy)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`providers`"), "{err}");
    }

    #[test]
    fn rsa_decryption_is_refused_without_its_opt_in() {
        let config = |accept: bool| {
            serde_json::json!({"providers": {"p": {
                "keys": {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams"}]}},
                "decryption": {"rsa_oaep_256": {"private_key": "-----BEGIN PRIVATE KEY-----",
                                                "accept_rustsec_2023_0071": accept}}}}})
            .to_string()
        };
        let err = check("jwt-auth", config(false).as_bytes(), HostKind::Envoy)
            .unwrap_err()
            .to_string();
        assert!(err.contains("RUSTSEC-2023-0071"), "{err}");
    }

    #[test]
    fn envoy_configs_that_print_credentials_are_flagged() {
        let yaml = "access_log:\n- typed_config:\n    log_format:\n      text_format_source:\n        inline_string: \"%REQ(:PATH)% %FILTER_STATE(wasm.tollgate_credentials)%\\n\"\nrequest_headers_to_add: [{header: {key: x, value: '%FILTER_STATE(wasm.tollgate_credentials:PLAIN)%'}}]\n";
        let warnings = envoy_warnings(yaml);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("line 5:"), "{}", warnings[0]);
        assert!(warnings[1].starts_with("line 6:"), "{}", warnings[1]);
        let json =
            r#"{"json_format": {"who": "%FILTER_STATE(wasm.other)%", "u": "%REQ(X-USER)%"}}"#;
        assert!(envoy_warnings(json).is_empty());
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
        for f in tollgate_catalog::FILTERS {
            let text = std::fs::read_to_string(deploy.join(f.name).join("envoy.yaml")).unwrap();
            assert!(envoy_warnings(&text).is_empty(), "{}", f.name);
        }
    }

    const REMOTE_BY_NAME: &str =
        r#"{"providers": {"idp": {"keys": {"remote": {"upstream": "idp", "path": "/jwks"}}}}}"#;

    #[test]
    fn a_config_is_checked_for_the_host_it_is_meant_for() {
        let bytes = REMOTE_BY_NAME.as_bytes();
        assert!(check("jwt-auth", bytes, HostKind::Envoy).is_ok());
        assert!(check("jwt-auth", bytes, HostKind::Kong).is_ok());
        let err = check("jwt-auth", bytes, HostKind::Apisix)
            .unwrap_err()
            .to_string();
        assert!(err.contains("providers.idp.keys.remote.upstream"), "{err}");
        assert!(host_kind("nginx").is_err());
        assert_eq!(host_kind("apisix").unwrap(), HostKind::Apisix);
    }
}
