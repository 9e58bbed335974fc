//! Delivery: fan the outbox out into deliveries, send what is due, record every attempt, and
//! schedule retries with exponential backoff and jitter for about three days.

use crate::{
    signature::{SigningSecret, signature_header},
    ssrf,
    store::{self, DueDelivery, Outcome},
};
use chrono::{DateTime, Utc};
use corridor_store::StoreError;
use rand::Rng;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Delay before attempt n+1 after n failures (Standard Webhooks' suggested schedule): 5 s,
/// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, about 3.3 days in all.
pub const RETRY_SCHEDULE_SECS: [i64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
pub const FANOUT_BATCH_MAX: i64 = 500;
pub const SEND_BATCH_MAX: i64 = 50;
/// A claimed delivery is due again after this if the sender dies mid-send.
pub const CLAIM_LEASE_SECS: i64 = 60;
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Response bodies are read only this far, for the delivery log.
pub const RESPONSE_SNIPPET_MAX: usize = 256;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub allow_private_destinations: bool,
}

/// When to try again after `attempts_done` failed attempts, or None when retries are exhausted.
/// Jitter of up to +-10 % spreads retries from one outage.
pub fn next_attempt(attempts_done: i32, now: DateTime<Utc>, retry_after_secs: Option<i64>) -> Option<DateTime<Utc>> {
    let base = *RETRY_SCHEDULE_SECS.get(usize::try_from(attempts_done).ok()?.checked_sub(1)?)?;
    let jitter = rand::rng().random_range(-(base / 10)..=(base / 10));
    let delay = (base + jitter).max(retry_after_secs.unwrap_or(0)).max(1);
    Some(now + chrono::Duration::seconds(delay))
}

/// Classifies an HTTP answer into the delivery's outcome.
pub fn classify(status: Option<u16>, attempts_done: i32, now: DateTime<Utc>, retry_after_secs: Option<i64>) -> Outcome {
    match status {
        Some(s) if (200..300).contains(&s) => Outcome::Succeeded,
        Some(410) => Outcome::Failed { disable_endpoint: true },
        _ => match next_attempt(attempts_done, now, retry_after_secs) {
            Some(at) => Outcome::Retry { at },
            None => Outcome::Failed {
                disable_endpoint: false,
            },
        },
    }
}

/// The JSON body receivers get.
pub fn body(delivery: &DueDelivery) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": delivery.event_type,
        "timestamp": delivery.event_created_at,
        "data": delivery.payload,
    }))
    .unwrap_or_default()
}

fn secrets(delivery: &DueDelivery, now: DateTime<Utc>) -> Vec<SigningSecret> {
    let mut secrets: Vec<SigningSecret> = SigningSecret::parse(&delivery.secret).into_iter().collect();
    if let (Some(previous), Some(until)) = (&delivery.previous_secret, delivery.previous_secret_expires_at)
        && until > now
    {
        secrets.extend(SigningSecret::parse(previous));
    }
    secrets
}

struct Sent {
    status: Option<u16>,
    error: Option<String>,
    retry_after_secs: Option<i64>,
    elapsed: Duration,
}

async fn send(delivery: &DueDelivery, config: &DispatcherConfig) -> Sent {
    let started = Instant::now();
    let failed = |error: String| Sent {
        status: None,
        error: Some(error),
        retry_after_secs: None,
        elapsed: started.elapsed(),
    };
    let url = match ssrf::parse(&delivery.url, config.allow_private_destinations) {
        Ok(u) => u,
        Err(e) => return failed(e.to_string()),
    };
    let addr = match ssrf::resolve(&url, config.allow_private_destinations).await {
        Ok(a) => a,
        Err(e) => return failed(e.to_string()),
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    // Pin the connection to the vetted address; no redirects (a redirect could point inside).
    let client = match reqwest::Client::builder()
        .resolve(&host, addr)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let now = Utc::now();
    let body = body(delivery);
    let msg_id = delivery.event_id.to_string();
    let timestamp = now.timestamp();
    let signature = signature_header(&secrets(delivery, now), &msg_id, timestamp, &body);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "Corridor-Webhooks/1")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after_secs = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok());
            let error = if r.status().is_success() {
                None
            } else {
                let text = r.text().await.unwrap_or_default();
                Some(format!(
                    "HTTP {status}: {}",
                    text.chars().take(RESPONSE_SNIPPET_MAX).collect::<String>()
                ))
            };
            Sent {
                status: Some(status),
                error,
                retry_after_secs,
                elapsed: started.elapsed(),
            }
        }
        Err(e) => failed(if e.is_timeout() {
            format!("no answer within {REQUEST_TIMEOUT:?}")
        } else {
            e.to_string()
        }),
    }
}

/// One round of fan-out. Returns the number of events handled.
pub async fn fan_out_once(pool: &PgPool) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let n = store::fan_out(&mut tx, FANOUT_BATCH_MAX).await?;
    tx.commit().await?;
    Ok(n)
}

/// One round of sending: claims due deliveries (committed, so a crash only delays them), sends
/// them concurrently, records each attempt. Returns how many were attempted.
pub async fn dispatch_once(pool: &PgPool, config: &DispatcherConfig) -> Result<usize, StoreError> {
    let due = {
        let mut tx = pool.begin().await?;
        let due = store::claim_due(&mut tx, SEND_BATCH_MAX, CLAIM_LEASE_SECS).await?;
        tx.commit().await?;
        due
    };
    let results = futures::future::join_all(due.iter().map(|d| send(d, config))).await;
    for (delivery, sent) in due.iter().zip(results) {
        let outcome = classify(sent.status, delivery.attempts + 1, Utc::now(), sent.retry_after_secs);
        let mut conn = pool.acquire().await?;
        let ms = i32::try_from(sent.elapsed.as_millis()).unwrap_or(i32::MAX);
        store::record_attempt(&mut conn, delivery, sent.status, sent.error.as_deref(), ms, &outcome).await?;
        metrics::counter!("webhook_attempts_total", "outcome" => match outcome {
            Outcome::Succeeded => "succeeded",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed { .. } => "failed",
        })
        .increment(1);
    }
    Ok(due.len())
}

/// The background loop: fan out, send, and sleep only when there was nothing to do.
pub async fn run(pool: PgPool, config: DispatcherConfig, shutdown: CancellationToken) {
    loop {
        let busy = match (fan_out_once(&pool).await, dispatch_once(&pool, &config).await) {
            (Ok(events), Ok(sent)) => events > 0 || sent > 0,
            (a, b) => {
                if let Err(e) = a {
                    tracing::warn!(error = %e, "webhook fan-out failed");
                }
                if let Err(e) = b {
                    tracing::warn!(error = %e, "webhook dispatch failed");
                }
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        } else if shutdown.is_cancelled() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_schedule_with_bounded_jitter_and_ends() {
        let now = Utc::now();
        for (i, base) in RETRY_SCHEDULE_SECS.iter().enumerate() {
            let at = next_attempt(i as i32 + 1, now, None).unwrap();
            let delay = (at - now).num_seconds();
            assert!(
                (base - base / 10..=base + base / 10).contains(&delay),
                "attempt {}: {delay}",
                i + 1
            );
        }
        assert_eq!(next_attempt(RETRY_SCHEDULE_SECS.len() as i32 + 1, now, None), None);
        let total: i64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert!((3 * 86_400..4 * 86_400).contains(&total), "about three days of retries");
    }

    #[test]
    fn classifies_answers() {
        let now = Utc::now();
        assert_eq!(classify(Some(204), 1, now, None), Outcome::Succeeded);
        assert_eq!(
            classify(Some(410), 1, now, None),
            Outcome::Failed { disable_endpoint: true }
        );
        assert!(matches!(classify(Some(500), 1, now, None), Outcome::Retry { .. }));
        assert!(matches!(classify(None, 1, now, None), Outcome::Retry { .. }));
        let Outcome::Retry { at } = classify(Some(429), 1, now, Some(120)) else {
            panic!()
        };
        assert!((at - now).num_seconds() >= 120, "Retry-After is honoured");
        assert_eq!(
            classify(Some(500), 10, now, None),
            Outcome::Failed {
                disable_endpoint: false
            }
        );
    }
}
