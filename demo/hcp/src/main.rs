//! `hcp-demo`: the demo HCP management API on loopback, until Ctrl-C.

use clap::Parser;

#[derive(Parser)]
#[command(about = "A stand-in for the HCP management API (demo users, loopback only)")]
struct Args {
    /// Tenants are `<tenant>.<domain>` in the Host header.
    #[arg(long, default_value = "hcp.demo")]
    domain: String,
    #[arg(long, default_value_t = 9090)]
    port: u16,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let demo = tollgate_hcp_demo::HcpDemo::start_on(
        &args.domain,
        tollgate_hcp_demo::demo_users(),
        args.port,
    )?;
    println!(
        "demo HCP management API on http://{} (tenants under {})",
        demo.addr(),
        args.domain
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(tokio::signal::ctrl_c())?;
    Ok(())
}
