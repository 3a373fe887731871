//! Validation with the filters' own config code: one definition of "valid".

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use tollgate_kit::config;

/// Checks `bytes` as the named filter's config; the error names the field's path.
pub fn check(filter: &str, bytes: &[u8]) -> Result<()> {
    match filter {
        "conformance" => config::load::<tollgate_conformance::ConformanceConfig>(bytes)
            .map(drop)
            .map_err(anyhow::Error::from),
        "jwt-auth" => config::load::<tollgate_jwt_auth::config::JwtAuthConfig>(bytes)
            .map(drop)
            .map_err(anyhow::Error::from),
        "hcp-auth" => config::load::<tollgate_hcp_auth::config::HcpAuthConfig>(bytes)
            .map(drop)
            .map_err(anyhow::Error::from),
        other => bail!("unknown filter `{other}`"),
    }
}

pub fn run(filter: &str, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    }
    check(filter, &bytes)?;
    println!("{}: valid {filter} config", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_uses_the_filters_rules() {
        assert!(check("conformance", br#"{"tick_ms":10}"#).is_ok());
        let err = check("conformance", br#"{"tick_ms":999999}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`tick_ms`"), "{err}");
        assert!(check("nope", b"{}").is_err());
        let err = check("jwt-auth", br#"{"providers": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`providers`"), "{err}");
        for (name, config) in crate::edge::FILTERS {
            assert!(check(name, config.as_bytes()).is_ok(), "{name}");
        }
    }
}
