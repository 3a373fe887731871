//! `tollgate`: Tollgate's command line.
//!
//! * `tollgate validate`: checks a filter config with the filter's own code, or lints
//!   an Envoy bootstrap (`--envoy`) for format strings that would leak credentials.
//! * `tollgate filters`: the filter catalog (what `scripts/build-wasm` builds).
//! * `tollgate schema`: a filter config's JSON Schema.
//!
//! The main job (real Envoy with the filters in front of demo upstreams) is demo code
//! and lives in `demo/edge` (`scripts/run`), not in the product.

use tollgate_control::validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Tollgate: API security and traffic logic at the edge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
