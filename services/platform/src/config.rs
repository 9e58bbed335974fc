//! Configuration from environment variables, validated at start-up. An invalid value stops the
//! process with a message naming the variable.

use crate::secret::Secret;
use corridor_store::PoolConfig;
use std::{net::SocketAddr, time::Duration};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Local development: sandbox credits, generated secrets, relaxed cooling-off periods.
    Dev,
    /// Everything else. Refuses insecure defaults.
    Prod,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {key}: {reason}")]
pub struct ConfigError {
    pub key: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub secret: Secret<Vec<u8>>,
    pub issuer: String,
    pub audience: String,
    pub session_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub profile: Profile,
    pub listen_addr: SocketAddr,
    pub database: PoolConfig,
    pub jwt: JwtConfig,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How long an idempotency claim is held before a retry may take it over.
    pub idempotency_lease: Duration,
    /// Lets webhooks reach loopback and private addresses; for local development only.
    pub webhooks_allow_private_destinations: bool,
    /// Log as JSON lines (production) or human-readable text.
    pub log_json: bool,
    pub payouts: PayoutPolicy,
    pub compliance: CompliancePolicy,
    pub invoices: InvoicePolicy,
    /// Where the web console calls the JSON API (the payouts service's review endpoints).
    /// `None`: the host the browser reached, which is right when one process serves both.
    pub console_api_url: Option<String>,
}

/// Payout settings every instance must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutPolicy {
    /// A new or changed beneficiary address can be paid only after this long.
    pub cooling_off: Duration,
    /// Platform fee on a payout: basis points of the amount (rounded down to the asset's scale)
    /// plus a fixed amount in the payout's asset.
    pub fee_bps: u32,
    pub fee_fixed: rust_decimal::Decimal,
    /// Screening holds a payout of at least this amount (in units of the asset) for review.
    pub review_threshold: rust_decimal::Decimal,
    /// How long a cross-asset quote's rate holds.
    pub quote_ttl: Duration,
    /// The static rate table behind quotes (`CORRIDOR_FX_RATES`); empty means no quotes.
    pub fx_rates: Vec<FxRate>,
}

/// Compliance settings.
#[derive(Debug, Clone)]
pub struct CompliancePolicy {
    /// An active sanctions list not confirmed current within this long holds every payout.
    pub sanctions_max_age: Duration,
    /// Distinct compliance reviewers who must approve a held payout before it may settle
    /// (four-eyes is 2). One rejection is enough to stop it.
    pub review_approvals: u8,
}

/// Invoice settings.
#[derive(Debug, Clone)]
pub struct InvoicePolicy {
    /// Keys the HMACs that derive each invoice's payment reference and pay-page token. Changing
    /// it changes the handles of invoices created afterwards only (stored ones stay).
    pub secret: Secret<Vec<u8>>,
}

/// One direction of a conversion: 1 `source` buys `rate` `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRate {
    pub source: String,
    pub target: String,
    pub rate: rust_decimal::Decimal,
}

/// Parses `USDC/EURC=0.92,EURC/USDC=1.085`.
fn parse_fx_rates(input: &str) -> Result<Vec<FxRate>, String> {
    let mut rates: Vec<FxRate> = Vec::new();
    for pair in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (assets, rate) = pair
            .split_once('=')
            .ok_or(format!("{pair:?}: expected SOURCE/TARGET=RATE"))?;
        let (source, target) = assets
            .split_once('/')
            .ok_or(format!("{pair:?}: expected SOURCE/TARGET=RATE"))?;
        let rate: rust_decimal::Decimal = rate.trim().parse().map_err(|e| format!("{pair:?}: {e}"))?;
        if rate <= rust_decimal::Decimal::ZERO {
            return Err(format!("{pair:?}: a rate must be positive"));
        }
        let (source, target) = (source.trim().to_ascii_uppercase(), target.trim().to_ascii_uppercase());
        if source == target || rates.iter().any(|r| r.source == source && r.target == target) {
            return Err(format!("{pair:?}: a pair must name two assets, once"));
        }
        rates.push(FxRate { source, target, rate });
    }
    Ok(rates)
}

/// Every environment variable the binary reads. deploy/ manifests are checked against this list.
pub const ENV_KEYS: &[&str] = &[
    "CORRIDOR_PROFILE",
    "CORRIDOR_LISTEN_ADDR",
    "CORRIDOR_DATABASE_URL",
    "CORRIDOR_DATABASE_CONNECTIONS_MAX",
    "CORRIDOR_DATABASE_ACQUIRE_TIMEOUT_MS",
    "CORRIDOR_DATABASE_STATEMENT_TIMEOUT_MS",
    "CORRIDOR_JWT_SECRET",
    "CORRIDOR_JWT_ISSUER",
    "CORRIDOR_JWT_AUDIENCE",
    "CORRIDOR_SESSION_TTL_SECS",
    "CORRIDOR_BODY_LIMIT_BYTES",
    "CORRIDOR_REQUEST_TIMEOUT_MS",
    "CORRIDOR_IDEMPOTENCY_LEASE_SECS",
    "CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS",
    "CORRIDOR_LOG_JSON",
    "CORRIDOR_PAYOUT_COOLING_OFF_SECS",
    "CORRIDOR_PAYOUT_FEE_BPS",
    "CORRIDOR_PAYOUT_FEE_FIXED",
    "CORRIDOR_PAYOUT_REVIEW_THRESHOLD",
    "CORRIDOR_QUOTE_TTL_SECS",
    "CORRIDOR_FX_RATES",
    "CORRIDOR_SANCTIONS_MAX_AGE_HOURS",
    "CORRIDOR_REVIEW_APPROVALS",
    "CORRIDOR_INVOICE_SECRET",
    "CORRIDOR_CONSOLE_API_URL",
];

pub const DEV_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/corridor";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Builds the configuration from any lookup (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let profile = match get("CORRIDOR_PROFILE").as_deref() {
            None | Some("dev") => Profile::Dev,
            Some("prod") => Profile::Prod,
            Some(other) => return Err(err("CORRIDOR_PROFILE", format!("expected dev or prod, got {other:?}"))),
        };
        let listen_addr = parse(&get, "CORRIDOR_LISTEN_ADDR", "127.0.0.1:8080")?;
        let database_url = match (get("CORRIDOR_DATABASE_URL"), profile) {
            (Some(url), _) => url,
            (None, Profile::Dev) => DEV_DATABASE_URL.to_owned(),
            (None, Profile::Prod) => return Err(err("CORRIDOR_DATABASE_URL", "required in the prod profile".into())),
        };
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(err("CORRIDOR_DATABASE_URL", "must be a postgres:// URL".into()));
        }
        let mut database = PoolConfig::new(database_url);
        database.connections_max = parse(&get, "CORRIDOR_DATABASE_CONNECTIONS_MAX", "20")?;
        if !(1..=500).contains(&database.connections_max) {
            return Err(err(
                "CORRIDOR_DATABASE_CONNECTIONS_MAX",
                "must be between 1 and 500".into(),
            ));
        }
        database.acquire_timeout = Duration::from_millis(parse(&get, "CORRIDOR_DATABASE_ACQUIRE_TIMEOUT_MS", "5000")?);
        database.statement_timeout =
            Duration::from_millis(parse(&get, "CORRIDOR_DATABASE_STATEMENT_TIMEOUT_MS", "30000")?);

        let jwt_secret = match (get("CORRIDOR_JWT_SECRET"), profile) {
            (Some(s), _) if s.len() >= 32 => s.into_bytes(),
            (Some(_), _) => return Err(err("CORRIDOR_JWT_SECRET", "must be at least 32 bytes".into())),
            // A fresh secret per dev process: sessions end at restart, nothing to leak.
            (None, Profile::Dev) => {
                let mut bytes = vec![0u8; 32];
                rand::fill(&mut bytes[..]);
                bytes
            }
            (None, Profile::Prod) => return Err(err("CORRIDOR_JWT_SECRET", "required in the prod profile".into())),
        };
        let jwt = JwtConfig {
            secret: Secret::new(jwt_secret),
            issuer: get("CORRIDOR_JWT_ISSUER").unwrap_or_else(|| "corridor".into()),
            audience: get("CORRIDOR_JWT_AUDIENCE").unwrap_or_else(|| "corridor-console".into()),
            session_ttl: Duration::from_secs(parse(&get, "CORRIDOR_SESSION_TTL_SECS", "3600")?),
        };
        if jwt.session_ttl.is_zero() || jwt.session_ttl > Duration::from_secs(12 * 3600) {
            return Err(err("CORRIDOR_SESSION_TTL_SECS", "must be between 1 s and 12 h".into()));
        }
        let body_limit_bytes: usize = parse(&get, "CORRIDOR_BODY_LIMIT_BYTES", "1048576")?;
        if !(1024..=64 * 1024 * 1024).contains(&body_limit_bytes) {
            return Err(err(
                "CORRIDOR_BODY_LIMIT_BYTES",
                "must be between 1 KiB and 64 MiB".into(),
            ));
        }
        let request_timeout = Duration::from_millis(parse(&get, "CORRIDOR_REQUEST_TIMEOUT_MS", "15000")?);
        let idempotency_lease = Duration::from_secs(parse(&get, "CORRIDOR_IDEMPOTENCY_LEASE_SECS", "60")?);
        if idempotency_lease <= request_timeout {
            return Err(err(
                "CORRIDOR_IDEMPOTENCY_LEASE_SECS",
                "must exceed the request timeout, or a slow request could lose its key to a retry".into(),
            ));
        }
        let webhooks_allow_private_destinations: bool =
            parse(&get, "CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", "false")?;
        if webhooks_allow_private_destinations && profile == Profile::Prod {
            return Err(err(
                "CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS",
                "is a dev-only setting".into(),
            ));
        }
        let log_json = parse(
            &get,
            "CORRIDOR_LOG_JSON",
            if profile == Profile::Prod { "true" } else { "false" },
        )?;
        let payouts = PayoutPolicy {
            cooling_off: Duration::from_secs(parse(
                &get,
                "CORRIDOR_PAYOUT_COOLING_OFF_SECS",
                if profile == Profile::Prod { "86400" } else { "0" },
            )?),
            fee_bps: parse(&get, "CORRIDOR_PAYOUT_FEE_BPS", "0")?,
            fee_fixed: parse(&get, "CORRIDOR_PAYOUT_FEE_FIXED", "0")?,
            review_threshold: parse(&get, "CORRIDOR_PAYOUT_REVIEW_THRESHOLD", "10000")?,
            quote_ttl: Duration::from_secs(parse(&get, "CORRIDOR_QUOTE_TTL_SECS", "30")?),
            fx_rates: parse_fx_rates(&get("CORRIDOR_FX_RATES").unwrap_or_else(|| {
                // The dev profile's static table; production names its own rates or has none.
                if profile == Profile::Prod {
                    ""
                } else {
                    "USDC/EURC=0.92,EURC/USDC=1.085"
                }
                .to_owned()
            }))
            .map_err(|e| err("CORRIDOR_FX_RATES", e))?,
        };
        if !(5..=3600).contains(&payouts.quote_ttl.as_secs()) {
            return Err(err(
                "CORRIDOR_QUOTE_TTL_SECS",
                "must be between 5 and 3600 seconds".into(),
            ));
        }
        if !payouts.review_threshold.is_sign_positive() || payouts.review_threshold.is_zero() {
            return Err(err(
                "CORRIDOR_PAYOUT_REVIEW_THRESHOLD",
                "must be a positive decimal".into(),
            ));
        }
        if payouts.fee_bps > 1_000 {
            return Err(err("CORRIDOR_PAYOUT_FEE_BPS", "must be at most 1000 (10 %)".into()));
        }
        if payouts.fee_fixed.is_sign_negative() || payouts.fee_fixed.scale() > 6 {
            return Err(err(
                "CORRIDOR_PAYOUT_FEE_FIXED",
                "must be a non-negative decimal with at most 6 decimals".into(),
            ));
        }
        let sanctions_max_age_hours: u64 = parse(&get, "CORRIDOR_SANCTIONS_MAX_AGE_HOURS", "168")?;
        if !(1..=24 * 90).contains(&sanctions_max_age_hours) {
            return Err(err(
                "CORRIDOR_SANCTIONS_MAX_AGE_HOURS",
                "must be between 1 and 2160 hours (90 days)".into(),
            ));
        }
        let review_approvals: u8 = parse(&get, "CORRIDOR_REVIEW_APPROVALS", "2")?;
        let fewest_approvals = if profile == Profile::Prod { 2 } else { 1 };
        if !(fewest_approvals..=3).contains(&review_approvals) {
            return Err(err(
                "CORRIDOR_REVIEW_APPROVALS",
                format!("must be between {fewest_approvals} and 3 in this profile (four-eyes is 2)"),
            ));
        }
        let compliance = CompliancePolicy {
            sanctions_max_age: Duration::from_secs(sanctions_max_age_hours * 3600),
            review_approvals,
        };
        let invoice_secret = match (get("CORRIDOR_INVOICE_SECRET"), profile) {
            (Some(s), _) if s.len() >= 32 => s.into_bytes(),
            (Some(_), _) => return Err(err("CORRIDOR_INVOICE_SECRET", "must be at least 32 bytes".into())),
            // Per dev process: references already given are stored, so a restart loses nothing.
            (None, Profile::Dev) => {
                let mut bytes = vec![0u8; 32];
                rand::fill(&mut bytes[..]);
                bytes
            }
            (None, Profile::Prod) => {
                return Err(err("CORRIDOR_INVOICE_SECRET", "required in the prod profile".into()));
            }
        };
        let invoices = InvoicePolicy {
            secret: Secret::new(invoice_secret),
        };
        let console_api_url = match get("CORRIDOR_CONSOLE_API_URL") {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Some(u.trim_end_matches('/').to_owned())
            }
            Some(u) => {
                return Err(err(
                    "CORRIDOR_CONSOLE_API_URL",
                    format!("expected an http:// or https:// URL, got {u:?}"),
                ));
            }
            None => None,
        };
        Ok(Config {
            profile,
            listen_addr,
            database,
            jwt,
            body_limit_bytes,
            request_timeout,
            idempotency_lease,
            webhooks_allow_private_destinations,
            log_json,
            payouts,
            compliance,
            invoices,
            console_api_url,
        })
    }

    pub fn is_dev(&self) -> bool {
        self.profile == Profile::Dev
    }
}

fn err(key: &'static str, reason: String) -> ConfigError {
    ConfigError { key, reason }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: &str,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let raw = get(key).unwrap_or_else(|| default.to_owned());
    raw.parse().map_err(|e| err(key, format!("{raw:?} is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn dev_profile_needs_no_configuration() {
        let c = with(&[]).unwrap();
        assert_eq!(c.profile, Profile::Dev);
        assert_eq!(c.jwt.secret.expose().len(), 32);
    }

    #[test]
    fn prod_profile_refuses_missing_secrets_naming_the_key() {
        let e = with(&[
            ("CORRIDOR_PROFILE", "prod"),
            ("CORRIDOR_DATABASE_URL", "postgres://db/x"),
        ])
        .unwrap_err();
        assert_eq!(e.key, "CORRIDOR_JWT_SECRET");
        let e = with(&[
            ("CORRIDOR_PROFILE", "prod"),
            ("CORRIDOR_DATABASE_URL", "postgres://db/x"),
            ("CORRIDOR_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap_err();
        assert_eq!(e.key, "CORRIDOR_INVOICE_SECRET");
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            with(&[("CORRIDOR_LISTEN_ADDR", "nope")]).unwrap_err().key,
            "CORRIDOR_LISTEN_ADDR"
        );
        assert_eq!(
            with(&[("CORRIDOR_JWT_SECRET", "short")]).unwrap_err().key,
            "CORRIDOR_JWT_SECRET"
        );
        assert_eq!(
            with(&[("CORRIDOR_PROFILE", "staging")]).unwrap_err().key,
            "CORRIDOR_PROFILE"
        );
        let private_in_prod = with(&[
            ("CORRIDOR_PROFILE", "prod"),
            ("CORRIDOR_DATABASE_URL", "postgres://db/x"),
            ("CORRIDOR_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("CORRIDOR_INVOICE_SECRET", "fedcba9876543210fedcba9876543210"),
            ("CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", "true"),
        ]);
        assert_eq!(
            private_in_prod.unwrap_err().key,
            "CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS"
        );
    }

    #[test]
    fn fx_rates_parse_into_directed_pairs_and_bad_tables_name_the_key() {
        let c = with(&[]).unwrap();
        assert_eq!(c.payouts.fx_rates.len(), 2, "dev ships a static table");
        let c = with(&[("CORRIDOR_FX_RATES", "usdc/eurc = 0.9150")]).unwrap();
        assert_eq!(
            c.payouts.fx_rates,
            vec![FxRate {
                source: "USDC".into(),
                target: "EURC".into(),
                rate: "0.9150".parse().unwrap()
            }]
        );
        for bad in [
            "USDC/EURC",
            "USDC=1",
            "USDC/USDC=1",
            "USDC/EURC=-1",
            "USDC/EURC=1,USDC/EURC=2",
            "A/B=x",
        ] {
            assert_eq!(
                with(&[("CORRIDOR_FX_RATES", bad)]).unwrap_err().key,
                "CORRIDOR_FX_RATES",
                "{bad}"
            );
        }
        assert_eq!(
            with(&[("CORRIDOR_QUOTE_TTL_SECS", "1")]).unwrap_err().key,
            "CORRIDOR_QUOTE_TTL_SECS"
        );
    }

    #[test]
    fn four_eyes_is_the_default_and_prod_cannot_lower_it() {
        assert_eq!(with(&[]).unwrap().compliance.review_approvals, 2);
        assert_eq!(
            with(&[("CORRIDOR_REVIEW_APPROVALS", "1")])
                .unwrap()
                .compliance
                .review_approvals,
            1
        );
        for bad in ["0", "4", "two"] {
            assert_eq!(
                with(&[("CORRIDOR_REVIEW_APPROVALS", bad)]).unwrap_err().key,
                "CORRIDOR_REVIEW_APPROVALS",
                "{bad}"
            );
        }
        let one_in_prod = with(&[
            ("CORRIDOR_PROFILE", "prod"),
            ("CORRIDOR_DATABASE_URL", "postgres://db/x"),
            ("CORRIDOR_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("CORRIDOR_INVOICE_SECRET", "fedcba9876543210fedcba9876543210"),
            ("CORRIDOR_REVIEW_APPROVALS", "1"),
        ]);
        assert_eq!(one_in_prod.unwrap_err().key, "CORRIDOR_REVIEW_APPROVALS");
    }
}
