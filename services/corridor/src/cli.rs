use crate::{admin, dev, server};
use anyhow::Context;
use clap::{Parser, Subcommand};
use corridor_domain::AssetRegistry;
use corridor_platform::{AppState, Config};
use tokio_util::sync::CancellationToken;

/// Corridor: a self-hostable cross-border stablecoin payments gateway.
///
/// Configuration comes from CORRIDOR_* environment variables (see the README).
#[derive(Debug, Parser)]
#[command(name = "corridor", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and run the services' jobs (all services unless --services is given).
    Serve {
        /// Comma-separated service names, e.g. invoicing,compliance.
        #[arg(long, value_delimiter = ',', env = "CORRIDOR_SERVICES")]
        services: Option<Vec<String>>,
    },
    /// Apply database migrations.
    Migrate,
    /// Merchants (tenants).
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// API keys for a merchant's servers.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Users of the web console.
    #[command(subcommand, name = "console-user")]
    ConsoleUser(ConsoleUserCommand),
    /// Ledger maintenance.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Run everything locally: Postgres, anvil, contracts, migrations, demo data, all services.
    Dev(dev::DevArgs),
}

#[derive(Debug, Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant and print its id.
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it (shown once).
    Create {
        #[arg(long)]
        merchant: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Comma-separated scopes; all scopes when omitted.
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// Create a console user. The password is read from CORRIDOR_NEW_PASSWORD, or generated and printed.
    Create {
        #[arg(long)]
        email: String,
        /// merchant_admin, treasury, compliance_officer, compliance_lead or platform_admin.
        #[arg(long)]
        role: String,
        /// Required for merchant_admin.
        #[arg(long)]
        merchant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Prove every balance equals the fold of its postings and every entry balances.
    Check,
}

async fn state(config: Config) -> anyhow::Result<AppState> {
    let pool = corridor_store::connect(&config.database)
        .await
        .context("connecting to Postgres")?;
    let chain = corridor_chain::ChainConfig::from_lookup(|k| std::env::var(k).ok())?;
    let mut builder = AppState::builder(pool, config, AssetRegistry::builtin());
    for check in server::readiness_checks(chain) {
        builder = builder.readiness_check(check);
    }
    Ok(builder.build())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Dev(args) = cli.command {
        return dev::run(args).await;
    }
    let config = Config::from_env()?;
    corridor_platform::telemetry::init(config.log_json);
    match cli.command {
        Command::Serve { services } => {
            let chain = crate::chain_service::ChainRuntime::from_env(!config.is_dev())?;
            let services = server::select(services.as_deref(), chain)?;
            let state = state(config).await?;
            server::serve(state, services, CancellationToken::new()).await
        }
        Command::Migrate => admin::migrate(&state(config).await?).await,
        Command::Merchant(MerchantCommand::Create { name }) => {
            let id = admin::create_merchant(&state(config).await?, &name).await?;
            println!("{id}");
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create { merchant, name, scopes }) => {
            let key = admin::create_api_key(&state(config).await?, &merchant, &name, scopes.as_deref()).await?;
            println!("{key}");
            Ok(())
        }
        Command::ConsoleUser(ConsoleUserCommand::Create { email, role, merchant }) => {
            let password = std::env::var("CORRIDOR_NEW_PASSWORD").ok();
            let generated = password.is_none();
            let password = password.unwrap_or_else(admin::generate_password);
            admin::create_console_user(&state(config).await?, &email, &password, &role, merchant.as_deref()).await?;
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        Command::Ledger(LedgerCommand::Check) => {
            let report = admin::ledger_check(&state(config).await?).await?;
            println!("{report}");
            Ok(())
        }
        Command::Dev(_) => unreachable!("handled above"),
    }
}
