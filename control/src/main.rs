//! `tollgate`: Tollgate's command line.
//!
//! * `tollgate validate`: checks a filter config with the filter's own code, or lints
//!   an Envoy bootstrap (`--envoy`) for format strings that would leak credentials.
//! * `tollgate filters`: the filter catalog (what `scripts/build-wasm` builds).
//! * `tollgate schema`: a filter config's JSON Schema.
//! * `tollgate login`, `policy test|push`, `config get|set|diff`, `history`,
//!   `rollback`, `changes`, `approve`, `reject`, `audit verify`, `status`: the control
//!   service's client (`tollgate-control` is the service).
//!
//! Exit codes: 0 done; 1 failure; 2 usage; 3 refused as invalid (config, bundle, a
//! failing policy test, a broken audit chain); 4 conflict (someone changed it first,
//! or `--if-match` is needed); 5 not logged in or not allowed; 6 not found; 7 server
//! unavailable or rate-limiting.
//!
//! The main job (real Envoy with the filters in front of demo upstreams) is demo code
//! and lives in `demo/edge` (`scripts/run`), not in the product.

use tollgate_control::validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand, ValueEnum};
use tollgate_control::cli::{self, Base, ConfigCommand, Connection, DocArgs, PolicyCommand};
use tollgate_control::client::CliError;

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Tollgate: API security and traffic logic at the edge"
)]
#[command(
    after_help = "Exit codes: 0 done, 1 failure, 2 usage, 3 invalid, 4 conflict, 5 denied, 6 not found, 7 unavailable."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain; exit 3 when it is broken.
    Verify,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    /// One line per filter, aligned, for people.
    Text,
    /// `name<TAB>package<TAB>wasm file<TAB>config version`, for scripts.
    Tsv,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a filter configuration (JSON) exactly as the filter will, or lint an
    /// Envoy bootstrap that runs the filters (`--envoy`).
    Validate {
        /// The filter the config is for.
        #[arg(long, value_parser = PossibleValuesParser::new(tollgate_catalog::names()), required_unless_present_any = ["envoy", "bundle"])]
        filter: Option<String>,
        /// The file is an OPA bundle for rego-authz (a directory or a `.tar.gz`):
        /// compile it and run its `test_*` rules on the filter's engine.
        #[arg(long, conflicts_with_all = ["filter", "envoy"])]
        bundle: bool,
        /// The file is an Envoy bootstrap (YAML or JSON): warn about format strings
        /// that would print jwt-auth's credentials filter state.
        #[arg(long, conflicts_with = "filter")]
        envoy: bool,
        /// With `--envoy`, fail on warnings.
        #[arg(long, requires = "envoy")]
        strict: bool,
        /// The host the filter config is for: what a host cannot do is refused as the
        /// filter refuses it there (for example a cluster name as JWKS upstream on APISIX).
        #[arg(long, value_parser = ["envoy", "kong", "apisix"], default_value = "envoy")]
        host: String,
        /// The config file; `-` reads standard input.
        config: PathBuf,
    },
    /// List the filters this build knows (the catalog).
    Filters {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Print a filter config's JSON Schema (the text of `deploy/<filter>/config.schema.json`).
    Schema {
        #[arg(value_parser = PossibleValuesParser::new(tollgate_catalog::names()))]
        filter: String,
    },
    /// Exchange an API token for a session with a control service (saved, mode 0600).
    Login {
        #[arg(long)]
        server: String,
        /// A file holding the API token (else TOLLGATE_TOKEN).
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Rego bundles: test locally, push to a gateway group.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Filter configs (and bundles, with --bundle): get, set, diff.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// A config's or bundle's revisions.
    History {
        #[command(flatten)]
        doc: DocArgs,
    },
    /// Make an earlier revision current again (as a new revision).
    Rollback {
        #[command(flatten)]
        doc: DocArgs,
        #[arg(long)]
        to: u64,
        #[command(flatten)]
        base: Base,
    },
    /// A project's change requests.
    Changes {
        #[arg(long)]
        project: String,
    },
    /// Approve a change request (platform admins).
    Approve {
        #[arg(long)]
        project: String,
        id: String,
    },
    /// Reject a change request with a reason (platform admins).
    Reject {
        #[arg(long)]
        project: String,
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// A group's staged rollouts: the policy, what is promoted, what bakes and why.
    Rollout {
        #[arg(long)]
        project: String,
        #[arg(long)]
        group: String,
        /// Follow until no revision is baking (at most this many seconds).
        #[arg(long)]
        watch: Option<u64>,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The service, the caller, storage and the audit head; with `--project` and
    /// `--group`, the fleet: each gateway's revisions, refusals and staleness.
    Status {
        #[arg(long, requires = "group")]
        project: Option<String>,
        #[arg(long, requires = "project")]
        group: Option<String>,
    },
}

/// Runs a command that talks to the control service.
fn remote(f: impl std::future::Future<Output = Result<(), CliError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(e.code)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let conn = cli.connection;
    let result = match cli.command {
        Command::Login { server, token_file } => {
            return remote(cli::login(&conn, &server, token_file.as_deref()));
        }
        Command::Policy { command } => return remote(cli::policy(&conn, command)),
        Command::Config { command } => return remote(cli::config(&conn, command)),
        Command::History { doc } => return remote(cli::history(&conn, doc)),
        Command::Rollback { doc, to, base } => return remote(cli::rollback(&conn, doc, to, base)),
        Command::Changes { project } => return remote(cli::changes(&conn, &project)),
        Command::Approve { project, id } => return remote(cli::decide(&conn, &project, &id, None)),
        Command::Reject {
            project,
            id,
            reason,
        } => return remote(cli::decide(&conn, &project, &id, Some(&reason))),
        Command::Audit {
            command: AuditCommand::Verify,
        } => return remote(cli::audit_verify(&conn)),
        Command::Rollout {
            project,
            group,
            watch,
        } => return remote(cli::rollout(&conn, &project, &group, watch)),
        Command::Status {
            project: Some(project),
            group: Some(group),
        } => return remote(cli::fleet(&conn, &project, &group)),
        Command::Status { .. } => return remote(cli::status(&conn)),
        Command::Validate {
            filter,
            envoy,
            bundle,
            strict,
            host,
            config,
        } => match filter {
            _ if bundle => validate::run_bundle(&config),
            Some(filter) if !envoy => validate::run(&filter, &config, &host),
            _ => validate::run_envoy(&config, strict),
        },
        Command::Filters { format } => {
            for f in tollgate_catalog::FILTERS {
                match format {
                    ListFormat::Text => {
                        println!("{:<10} {:<22} {}", f.name, f.config_version, f.summary)
                    }
                    ListFormat::Tsv => println!(
                        "{}\t{}\t{}\t{}",
                        f.name,
                        f.package,
                        f.wasm_file(),
                        f.config_version
                    ),
                }
            }
            Ok(())
        }
        Command::Schema { filter } => match tollgate_catalog::find(&filter) {
            Some(f) => {
                print!("{}", f.schema_text());
                Ok(())
            }
            None => Err(anyhow::anyhow!("unknown filter `{filter}`")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
