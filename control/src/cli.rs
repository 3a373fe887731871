//! The `tollgate` commands that talk to the control service. Human output by default,
//! `--json` for scripts; exit codes in [`crate::client::exit`].

use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::{CliError, CliResult, Client, Session, exit, field};

/// Where the server is and who the caller is.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The control service (else the saved session's, from `tollgate login`).
    #[arg(long, env = "TOLLGATE_SERVER", global = true)]
    pub server: Option<String>,
    /// An API token or session token (else the saved session's).
    #[arg(long, env = "TOLLGATE_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Which document: a filter config or the group's bundle.
#[derive(Args, Debug, Clone)]
pub struct DocArgs {
    #[arg(long)]
    pub project: String,
    #[arg(long)]
    pub group: String,
    /// The filter whose config this is (omit with --bundle).
    #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
    pub filter: Option<String>,
    /// The group's Rego bundle.
    #[arg(long)]
    pub bundle: bool,
}

impl DocArgs {
    fn path(&self) -> String {
        match &self.filter {
            Some(f) => format!(
                "/v1/projects/{}/groups/{}/configs/{f}",
                self.project, self.group
            ),
            None => format!("/v1/projects/{}/groups/{}/bundle", self.project, self.group),
        }
    }
}

/// How a write names its base revision.
#[derive(Args, Debug, Clone)]
pub struct Base {
    /// The revision this change is based on (what `get` or `history` showed).
    #[arg(long, conflicts_with = "latest")]
    pub if_match: Option<u64>,
    /// Base the change on whatever is current now (may overwrite someone's change made
    /// since you last looked).
    #[arg(long)]
    pub latest: bool,
    /// The change message.
    #[arg(long, short = 'm', default_value = "")]
    pub message: String,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Run a bundle directory's `test_*` rules locally (the server runs the same ones).
    Test { dir: std::path::PathBuf },
    /// Push a bundle directory (or `.tar.gz`) to a group: validated, tested, signed.
    Push {
        path: std::path::PathBuf,
        #[arg(long)]
        project: String,
        #[arg(long)]
        group: String,
        #[command(flatten)]
        base: Base,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print a config (current or `--revision N`).
    Get {
        #[command(flatten)]
        doc: DocArgs,
        #[arg(long)]
        revision: Option<u64>,
    },
    /// Push a config file (JSON).
    Set {
        #[command(flatten)]
        doc: DocArgs,
        file: std::path::PathBuf,
        #[command(flatten)]
        base: Base,
    },
    /// Diff two revisions (default: the current one against the one before).
    Diff {
        #[command(flatten)]
        doc: DocArgs,
        #[arg(long)]
        from: Option<u64>,
        #[arg(long)]
        to: Option<u64>,
    },
}

fn print(conn: &Connection, body: &Value, human: impl FnOnce() -> String) {
    if conn.json {
        println!("{}", serde_json::to_string_pretty(body).unwrap_or_default());
    } else {
        println!("{}", human());
    }
}

fn spinner(message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

pub async fn login(conn: &Connection, server: &str, token_file: Option<&Path>) -> CliResult<()> {
    let token = match token_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| CliError::local(format!("{}: {e}", p.display())))?,
        None => conn.token.clone().ok_or_else(|| {
            CliError::local("give --token-file FILE or TOLLGATE_TOKEN with your API token")
        })?,
    };
    let client = Client::new(Some(server.to_string()), Some(token.trim().to_string()))
        .map_err(CliError::local)?;
    let r = client.post_json("/v1/login", &json!({})).await?;
    let session = Session {
        server: client.server.clone(),
        token: field(&r.body, "/token")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        expires: field(&r.body, "/expires").as_u64().unwrap_or(0),
    };
    crate::client::save_session(&session).map_err(CliError::local)?;
    print(conn, &r.body, || {
        format!(
            "logged in to {} as {}",
            session.server,
            field(&r.body, "/subject").as_str().unwrap_or("?")
        )
    });
    Ok(())
}

fn client(conn: &Connection) -> CliResult<Client> {
    Client::new(conn.server.clone(), conn.token.clone()).map_err(CliError::local)
}

/// The `If-Match` header a write sends.
async fn base_header(
    client: &Client,
    path: &str,
    base: &Base,
) -> CliResult<Vec<(&'static str, String)>> {
    let mut headers = vec![("tollgate-message", base.message.clone())];
    let revision = match (base.if_match, base.latest) {
        (Some(n), _) => Some(n),
        (None, true) => client.current_revision(path).await?,
        (None, false) => None,
    };
    if let Some(n) = revision {
        headers.push(("if-match", format!("\"{n}\"")));
    }
    Ok(headers)
}

fn pushed(conn: &Connection, r: &crate::client::Ok2xx, what: &str) {
    print(conn, &r.body, || {
        if r.status == 202 {
            let c = field(&r.body, "/change");
            format!(
                "{what}: change request {} awaits approval\n{}",
                field(c, "/id").as_str().unwrap_or("?"),
                field(c, "/diff").as_str().unwrap_or("")
            )
        } else if field(&r.body, "/unchanged") == true {
            format!(
                "{what}: unchanged (revision {})",
                field(&r.body, "/revision/number")
            )
        } else {
            let tests = field(&r.body, "/validation/tests")
                .as_array()
                .map_or(0, Vec::len);
            let tested = if tests > 0 {
                format!(", {tests} policy tests passed")
            } else {
                String::new()
            };
            format!(
                "{what}: revision {} ({}){tested}",
                field(&r.body, "/revision/number"),
                field(&r.body, "/revision/sha256")
                    .as_str()
                    .unwrap_or("")
                    .get(..12)
                    .unwrap_or("")
            )
        }
    });
}

pub async fn policy(conn: &Connection, command: PolicyCommand) -> CliResult<()> {
    match command {
        PolicyCommand::Test { dir } => {
            let report =
                tollgate_rego_authz::runner::check_bundle(&dir).map_err(CliError::local)?;
            let body = json!({"revision": report.revision, "modules": report.modules, "tests": report.results.iter().map(|r| json!({"name": r.name, "passed": r.failure.is_none(), "failure": r.failure})).collect::<Vec<_>>()});
            print(conn, &body, || {
                report
                    .results
                    .iter()
                    .map(|r| match &r.failure {
                        None => format!("PASS {}", r.name),
                        Some(why) => format!("FAIL {}: {why}", r.name),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            if report.failed() > 0 {
                return Err(CliError {
                    code: exit::INVALID,
                    message: format!(
                        "{} of {} policy tests failed",
                        report.failed(),
                        report.results.len()
                    ),
                    body: None,
                });
            }
            Ok(())
        }
        PolicyCommand::Push {
            path,
            project,
            group,
            base,
        } => {
            let bytes = if path.is_dir() {
                tollgate_rego_authz::bundle::Files::from_dir(&path, Default::default())
                    .and_then(|f| f.to_tar_gz())
                    .map_err(CliError::local)?
            } else {
                std::fs::read(&path)
                    .map_err(|e| CliError::local(format!("{}: {e}", path.display())))?
            };
            let c = client(conn)?;
            let url = format!("/v1/projects/{project}/groups/{group}/bundle");
            let headers = base_header(&c, &url, &base).await?;
            let bar = spinner("validating, testing and signing the bundle");
            let r = c
                .send(
                    reqwest::Method::PUT,
                    &url,
                    &headers,
                    Some((bytes, "application/gzip")),
                )
                .await;
            bar.finish_and_clear();
            let r = r?;
            pushed(conn, &r, &format!("{project}/{group} bundle"));
            Ok(())
        }
    }
}

pub async fn config(conn: &Connection, command: ConfigCommand) -> CliResult<()> {
    let c = client(conn)?;
    match command {
        ConfigCommand::Get { doc, revision } => {
            let url = match revision {
                Some(n) => format!("{}?revision={n}", doc.path()),
                None => doc.path(),
            };
            let r = c.get(&url).await?;
            print(conn, &r.body, || {
                let rev = field(&r.body, "/revision");
                let content = if doc.bundle {
                    field(&r.body, "/files").clone()
                } else {
                    field(&r.body, "/content").clone()
                };
                format!(
                    "# revision {} by {} at {}: {}\n{}",
                    field(rev, "/number"),
                    field(rev, "/author").as_str().unwrap_or(""),
                    field(rev, "/time").as_str().unwrap_or(""),
                    field(rev, "/message").as_str().unwrap_or(""),
                    serde_json::to_string_pretty(&content).unwrap_or_default()
                )
            });
            Ok(())
        }
        ConfigCommand::Set { doc, file, base } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| CliError::local(format!("{}: {e}", file.display())))?;
            let headers = base_header(&c, &doc.path(), &base).await?;
            let content_type = if doc.bundle {
                "application/gzip"
            } else {
                "application/json"
            };
            let bar = spinner("validating");
            let r = c
                .send(
                    reqwest::Method::PUT,
                    &doc.path(),
                    &headers,
                    Some((bytes, content_type)),
                )
                .await;
            bar.finish_and_clear();
            pushed(conn, &r?, &doc.path());
            Ok(())
        }
        ConfigCommand::Diff { doc, from, to } => {
            let mut query = Vec::new();
            if let Some(n) = from {
                query.push(format!("from={n}"));
            }
            if let Some(n) = to {
                query.push(format!("to={n}"));
            }
            let r = c
                .get(&format!("{}/diff?{}", doc.path(), query.join("&")))
                .await?;
            print(conn, &r.body, || {
                field(&r.body, "/diff").as_str().unwrap_or("").to_string()
            });
            Ok(())
        }
    }
}

pub async fn history(conn: &Connection, doc: DocArgs) -> CliResult<()> {
    let r = client(conn)?
        .get(&format!("{}/revisions", doc.path()))
        .await?;
    print(conn, &r.body, || {
        field(&r.body, "/revisions")
            .as_array()
            .map_or_else(Vec::new, |revs| {
                revs.iter()
                    .map(|v| {
                        let rollback = field(v, "/rollback_of")
                            .as_u64()
                            .map(|n| format!(" (rollback to {n})"))
                            .unwrap_or_default();
                        format!(
                            "{:>4}  {}  {:<16} {}{rollback}",
                            field(v, "/number"),
                            field(v, "/time").as_str().unwrap_or(""),
                            field(v, "/author").as_str().unwrap_or(""),
                            field(v, "/message").as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .join("\n")
    });
    Ok(())
}

pub async fn rollback(conn: &Connection, doc: DocArgs, to: u64, base: Base) -> CliResult<()> {
    let c = client(conn)?;
    let mut headers = base_header(&c, &doc.path(), &base).await?;
    headers.retain(|(k, _)| *k != "tollgate-message");
    let message = (!base.message.is_empty()).then_some(base.message.clone());
    let body =
        serde_json::to_vec(&json!({"to": to, "message": message})).map_err(CliError::local)?;
    let r = c
        .send(
            reqwest::Method::POST,
            &format!("{}/rollback", doc.path()),
            &headers,
            Some((body, "application/json")),
        )
        .await?;
    pushed(conn, &r, &doc.path());
    Ok(())
}

pub async fn decide(
    conn: &Connection,
    project: &str,
    id: &str,
    reject: Option<&str>,
) -> CliResult<()> {
    let c = client(conn)?;
    let r = match reject {
        None => {
            c.post_json(
                &format!("/v1/projects/{project}/changes/{id}/approve"),
                &json!({}),
            )
            .await?
        }
        Some(reason) => {
            c.post_json(
                &format!("/v1/projects/{project}/changes/{id}/reject"),
                &json!({"reason": reason}),
            )
            .await?
        }
    };
    print(conn, &r.body, || match reject {
        None => format!(
            "approved {id}: revision {}",
            field(&r.body, "/revision/number")
        ),
        Some(_) => format!("rejected {id}"),
    });
    Ok(())
}

pub async fn changes(conn: &Connection, project: &str) -> CliResult<()> {
    let r = client(conn)?
        .get(&format!("/v1/projects/{project}/changes"))
        .await?;
    print(conn, &r.body, || {
        field(&r.body, "/changes")
            .as_array()
            .map_or_else(Vec::new, |cs| {
                cs.iter()
                    .map(|c| {
                        format!(
                            "{}  {:<8}  {:<12} {}  {}",
                            field(c, "/id").as_str().unwrap_or(""),
                            field(c, "/status").as_str().unwrap_or(""),
                            field(c, "/author").as_str().unwrap_or(""),
                            field(c, "/target/kind").as_str().unwrap_or(""),
                            field(c, "/message").as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .join("\n")
    });
    Ok(())
}

pub async fn audit_verify(conn: &Connection) -> CliResult<()> {
    let r = client(conn)?.get("/v1/audit/verify").await?;
    let intact = field(&r.body, "/intact") == true;
    print(conn, &r.body, || {
        if intact {
            format!(
                "audit chain intact: {} records, head {}",
                field(&r.body, "/records"),
                field(&r.body, "/head").as_str().unwrap_or("")
            )
        } else {
            format!(
                "audit chain BROKEN at record {}: {}",
                field(&r.body, "/broken_at"),
                field(&r.body, "/reason").as_str().unwrap_or("")
            )
        }
    });
    if intact {
        Ok(())
    } else {
        Err(CliError {
            code: exit::INVALID,
            message: "the audit chain is broken".into(),
            body: Some(r.body),
        })
    }
}

pub async fn status(conn: &Connection) -> CliResult<()> {
    let r = client(conn)?.get("/v1/status").await?;
    print(conn, &r.body, || {
        format!(
            "server   {}\nsubject  {}\nstorage  {}\naudit    {} records\nprojects {}",
            conn.server.clone().unwrap_or_else(|| "(session)".into()),
            field(&r.body, "/subject").as_str().unwrap_or(""),
            field(&r.body, "/storage").as_str().unwrap_or(""),
            field(&r.body, "/audit/records"),
            field(&r.body, "/projects")
                .as_array()
                .map_or_else(String::new, |p| p
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")),
        )
    });
    Ok(())
}

/// `tollgate status --project P --group G`: the fleet view as a table.
pub async fn fleet(conn: &Connection, project: &str, group: &str) -> CliResult<()> {
    let r = client(conn)?
        .get(&format!("/v1/projects/{project}/groups/{group}/status"))
        .await?;
    print(conn, &r.body, || fleet_text(&r.body));
    Ok(())
}

/// The fleet view for a terminal: one line per gateway, refusals with their reason.
pub fn fleet_text(view: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let revisions = field(view, "/revisions")
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(f, n)| format!("{f} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "group {}/{}: {}",
        field(view, "/project").as_str().unwrap_or(""),
        field(view, "/group").as_str().unwrap_or(""),
        if revisions.is_empty() {
            "no configs".into()
        } else {
            revisions
        }
    );
    let _ = writeln!(
        out,
        "{} gateways: {} up to date, {} failed, {} stale",
        field(view, "/summary/gateways"),
        field(view, "/summary/up_to_date"),
        field(view, "/summary/failed"),
        field(view, "/summary/stale"),
    );
    let now = crate::ledger::now_unix();
    for g in field(view, "/gateways").as_array().into_iter().flatten() {
        let state = if field(g, "/stale") == true {
            "STALE"
        } else if field(g, "/up_to_date") == true {
            "ok"
        } else {
            "behind"
        };
        let ago = now.saturating_sub(field(g, "/last_contact").as_u64().unwrap_or(0));
        let _ = writeln!(
            out,
            "  {:<24} {:<5} {:<7} contact {ago}s ago",
            field(g, "/gateway").as_str().unwrap_or(""),
            field(g, "/via").as_str().unwrap_or(""),
            state,
        );
        for (filter, f) in field(g, "/filters").as_object().into_iter().flatten() {
            let running = f
                .get("revision")
                .and_then(Value::as_u64)
                .map_or_else(|| "none".to_string(), |n| n.to_string());
            let _ = write!(out, "    {filter:<16} runs {running}");
            if let Some(e) = f.get("error").filter(|e| !e.is_null()) {
                let _ = write!(
                    out,
                    "; REFUSED {}: {}",
                    field(e, "/revision"),
                    field(e, "/detail").as_str().unwrap_or("")
                );
            }
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

/// The rollouts of a group as text: the policy, then each filter's phase and progress.
pub fn rollout_text(v: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match field(v, "/policy") {
        Value::Null => {
            out.push_str("no rollout policy: every revision goes to the whole group at once\n")
        }
        p => {
            let canary: Vec<&str> = field(p, "/canary")
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let _ = writeln!(
                out,
                "canary {} · bake {} s · max error rise {} · min requests {}",
                canary.join(", "),
                field(p, "/bake_seconds"),
                field(p, "/max_error_rise"),
                field(p, "/min_requests")
            );
        }
    }
    for (filter, s) in field(v, "/filters").as_object().into_iter().flatten() {
        let _ = write!(out, "  {filter:<16} promoted {}", field(s, "/promoted"));
        if let Some(c) = field(s, "/candidate").as_u64() {
            let _ = write!(out, ", baking {c}");
        }
        let note = field(s, "/note").as_str().unwrap_or("");
        if !note.is_empty() {
            let _ = write!(out, ": {note}");
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn baking(v: &Value) -> bool {
    field(v, "/filters")
        .as_object()
        .is_some_and(|m| m.values().any(|s| field(s, "/phase") == "baking"))
}

/// `tollgate rollout --project P --group G [--watch SECONDS]`: the group's rollouts;
/// with `--watch`, follows them (a spinner on a terminal) until none is baking.
pub async fn rollout(
    conn: &Connection,
    project: &str,
    group: &str,
    watch: Option<u64>,
) -> CliResult<()> {
    let path = format!("/v1/projects/{project}/groups/{group}/rollout");
    let client = client(conn)?;
    let mut r = client.get(&path).await?;
    if let Some(seconds) = watch {
        let bar = spinner("rollout");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        // Bounded by the deadline; one read a second.
        while baking(&r.body) && std::time::Instant::now() < deadline {
            bar.set_message(rollout_text(&r.body).replace('\n', " | "));
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            r = client.get(&path).await?;
        }
        bar.finish_and_clear();
        if baking(&r.body) {
            print(conn, &r.body, || rollout_text(&r.body));
            return Err(CliError {
                code: exit::FAILURE,
                message: format!("still baking after {seconds} s"),
                body: None,
            });
        }
    }
    print(conn, &r.body, || rollout_text(&r.body));
    Ok(())
}
