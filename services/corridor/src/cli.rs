use crate::{admin, demo, dev, server};
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
    /// Sanctions lists.
    #[command(subcommand)]
    Sanctions(SanctionsCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run everything locally: Postgres, anvil, contracts, migrations, demo data, all services.
    Dev(dev::DevArgs),
    /// A guided tour on a fresh local stack: an invoice paid on chain, payouts clean, sanctioned
    /// and four-eyes, a bank statement reconciled, a yield period distributed; each step checked.
    Demo(demo::DemoArgs),
    /// A local chain (anvil) run elsewhere, such as the docker-compose setup.
    #[command(subcommand, name = "local-chain")]
    LocalChain(LocalChainCommand),
}

#[derive(Debug, Subcommand)]
pub enum LocalChainCommand {
    /// Deploy the test stablecoins, PayoutRouter, InvoicePayments and vault to the anvil at
    /// CORRIDOR_CHAIN_RPC_URL with anvil's public dev keys, register them with the watcher,
    /// and print the settings `serve` needs. Does nothing if they are already there. Dev only.
    Deploy,
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
pub enum SanctionsCommand {
    /// Import a list version: `--source ofac_sdn --dir DIR` reads that source's files from DIR
    /// (ofac_sdn: sdn.csv, alt.csv, add.csv, sdn_comments.csv; ofac_consolidated: cons_prim.csv,
    /// cons_alt.csv, cons_add.csv, cons_comments.csv), or `--default` the shipped snapshot.
    Import {
        #[arg(long, required_unless_present = "default")]
        source: Option<String>,
        #[arg(long, required_unless_present = "default")]
        dir: Option<std::path::PathBuf>,
        /// The list's publication date, if known (YYYY-MM-DD).
        #[arg(long)]
        published_on: Option<chrono::NaiveDate>,
        #[arg(long, conflicts_with_all = ["source", "dir"])]
        default: bool,
    },
    /// Show the stored list versions, newest first.
    Versions,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain; exits non-zero at the first edited, deleted or reordered row.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Prove every balance equals the fold of its postings and every entry balances.
    Check,
}

/// Every environment variable the binary reads: what deployment files may set.
pub fn env_keys() -> Vec<&'static str> {
    let mut keys = Vec::new();
    keys.extend_from_slice(corridor_platform::config::ENV_KEYS);
    keys.extend_from_slice(corridor_chain::config::ENV_KEYS);
    keys.extend_from_slice(crate::chain_service::ENV_KEYS);
    keys.extend_from_slice(&["CORRIDOR_SERVICES", "CORRIDOR_NEW_PASSWORD", "RUST_LOG"]);
    keys
}

/// The built-in assets plus the stablecoins `CORRIDOR_CHAIN_TOKENS` names on the configured
/// chain (`USDC=0x...,EURC=0x...`), for chains the built-in table does not know, such as a local
/// or private test chain. Token decimals are the asset's.
pub fn registry(chain: Option<&corridor_chain::ChainConfig>, tokens: Option<&str>) -> anyhow::Result<AssetRegistry> {
    let mut registry = AssetRegistry::builtin();
    let Some(tokens) = tokens.filter(|t| !t.trim().is_empty()) else {
        return Ok(registry);
    };
    let chain =
        chain.context("configuration CORRIDOR_CHAIN_TOKENS: needs CORRIDOR_CHAIN_RPC_URL and CORRIDOR_CHAIN_ID")?;
    for pair in tokens.split(',').map(str::trim) {
        let bad = |why: String| anyhow::anyhow!("configuration CORRIDOR_CHAIN_TOKENS: {pair:?}: {why}");
        let (code, address) = pair
            .split_once('=')
            .ok_or_else(|| bad("expected ASSET=0xADDRESS".into()))?;
        let asset = registry.get(code.trim()).map_err(|e| bad(e.to_string()))?.clone();
        let token = corridor_domain::EvmAddress::parse(address.trim()).map_err(|e| bad(e.to_string()))?;
        registry = registry
            .with_deployment(corridor_domain::TokenDeployment {
                asset: asset.code.clone(),
                chain_id: chain.chain_id,
                token,
                decimals: u8::try_from(asset.scale).map_err(|e| bad(e.to_string()))?,
            })
            .map_err(|e| bad(e.to_string()))?;
    }
    Ok(registry)
}

async fn state(config: Config) -> anyhow::Result<AppState> {
    let pool = corridor_store::connect(&config.database)
        .await
        .context("connecting to Postgres")?;
    let chain = corridor_chain::ChainConfig::from_lookup(|k| std::env::var(k).ok())?;
    let registry = registry(chain.as_ref(), std::env::var("CORRIDOR_CHAIN_TOKENS").ok().as_deref())?;
    let mut builder = AppState::builder(pool, config, registry);
    for check in server::readiness_checks(chain) {
        builder = builder.readiness_check(check);
    }
    Ok(builder.build())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => return dev::run(args).await,
        Command::Demo(args) => return demo::run(args).await,
        _ => {}
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
        Command::LocalChain(LocalChainCommand::Deploy) => {
            anyhow::ensure!(
                config.is_dev(),
                "local-chain deploy uses anvil's public dev keys; refused under CORRIDOR_PROFILE=prod"
            );
            let chain = corridor_chain::ChainConfig::from_lookup(|k| std::env::var(k).ok())?
                .context("local-chain deploy needs CORRIDOR_CHAIN_RPC_URL and CORRIDOR_CHAIN_ID")?;
            let state = state(config).await?;
            let keys = corridor_chain::local::DevKeys::well_known();
            let (d, deployed) = corridor_chain::local::deploy_once(chain.rpc_url, &keys, dev::FLOAT_UNITS).await?;
            dev::watch_local_contracts(&state, &d).await?;
            println!("{}", if deployed { "deployed" } else { "already deployed" });
            println!("CORRIDOR_CHAIN_TOKENS=USDC={},EURC={}", d.usdc, d.eurc);
            println!("CORRIDOR_CHAIN_PAYOUT_ROUTER={}", d.payout_router);
            println!(
                "# InvoicePayments {}  vault {}  treasury {}",
                d.invoice_payments, d.vault, d.treasury
            );
            Ok(())
        }
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
        Command::Sanctions(SanctionsCommand::Import {
            source,
            dir,
            published_on,
            default,
        }) => {
            let state = state(config).await?;
            let imported = if default {
                let mut all = Vec::new();
                for (source, files) in corridor_compliance::versions::DEFAULT_SNAPSHOT {
                    all.push(corridor_compliance::versions::import(state.pool(), source, files, None, "cli").await?);
                }
                all
            } else {
                let (source, dir) = (source.unwrap_or_default(), dir.unwrap_or_default());
                let names = corridor_compliance::versions::SOURCES
                    .iter()
                    .find(|(s, _)| *s == source)
                    .map(|(_, names)| *names)
                    .with_context(|| format!("unknown list source {source:?}; known: ofac_sdn, ofac_consolidated"))?;
                let mut files = Vec::new();
                for name in names {
                    let path = dir.join(name);
                    if path.exists() {
                        files.push((*name, std::fs::read(&path).with_context(|| path.display().to_string())?));
                    }
                }
                let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
                vec![
                    corridor_compliance::versions::import(state.pool(), &source, &borrowed, published_on, "cli")
                        .await?,
                ]
            };
            for i in imported {
                let v = i.version;
                let what = if i.created {
                    "imported"
                } else {
                    "already imported, unchanged"
                };
                println!(
                    "{} {what}: version {} ({} entries, {} names, {} addresses)",
                    v.source, v.id, v.entries, v.names, v.addresses
                );
            }
            Ok(())
        }
        Command::Sanctions(SanctionsCommand::Versions) => {
            let state = state(config).await?;
            let mut conn = state.pool().acquire().await?;
            for v in corridor_compliance::versions::versions(&mut conn, 200).await? {
                println!(
                    "{} {} {} {} entries, {} addresses, imported {} by {}",
                    v.id, v.source, v.status, v.entries, v.addresses, v.imported_at, v.imported_by
                );
            }
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let state = state(config).await?;
            let mut conn = state.pool().acquire().await?;
            let report = corridor_store::audit::verify(&mut conn).await?;
            match report.broken_at {
                None => {
                    println!("audit log intact: {} rows, head {}", report.rows, report.head);
                    Ok(())
                }
                Some((seq, why)) => anyhow::bail!(
                    "audit log broken at row {seq}: {why} ({} rows verified before it, last good hash {})",
                    report.rows,
                    report.head
                ),
            }
        }
        Command::Dev(_) | Command::Demo(_) => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> corridor_chain::ChainConfig {
        corridor_chain::ChainConfig {
            chain_id: 31337,
            rpc_url: "http://127.0.0.1:8545".parse().unwrap(),
            finality: corridor_chain::Finality::Depth(2),
        }
    }

    #[test]
    fn chain_tokens_add_deployments_on_the_configured_chain_and_bad_ones_name_the_setting() {
        let usdc = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        let r = registry(Some(&local()), Some(&format!("USDC={usdc}"))).unwrap();
        let d = r
            .deployment(&corridor_domain::AssetCode::parse("USDC").unwrap(), 31337)
            .unwrap();
        assert_eq!((d.token.to_string().as_str(), d.decimals), (usdc, 6));
        assert!(registry(None, None).unwrap().deployment(&d.asset, 31337).is_err());
        for bad in ["USDC", "DOGE=0x5FbDB2315678afecb367f032d93F642f64180aa3", "USDC=0x12"] {
            let e = registry(Some(&local()), Some(bad)).unwrap_err().to_string();
            assert!(e.contains("CORRIDOR_CHAIN_TOKENS"), "{bad}: {e}");
        }
        let e = registry(None, Some(&format!("USDC={usdc}"))).unwrap_err().to_string();
        assert!(e.contains("CORRIDOR_CHAIN_RPC_URL"), "{e}");
    }
}
