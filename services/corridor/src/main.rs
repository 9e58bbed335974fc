//! `corridor`: runs any subset of the services in one process, and holds the admin commands.
//! Thin on purpose; the work happens in the library (`corridor::*`).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // reqwest (used by alloy and the webhook dispatcher) is built without a default TLS
    // provider; install ring once, before any client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = corridor::cli::Cli::parse();
    match corridor::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
