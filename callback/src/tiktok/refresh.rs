//! Fresh access tokens, one refresh at a time per account. TikTok may invalidate a refresh token
//! the moment it issues the next one, so two concurrent refreshes could lock the account out:
//! callers queue on a per-account lock, the first refreshes and commits the rotated pair, and
//! the others find it already fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Client, Meaning, TikTokError};
use crate::now_ms;
use crate::secrets::Secret;
use crate::store::{Store, StoreError, TokenSet};

/// Refresh when less than this is left (or half the lifetime, for short-lived tokens).
const MARGIN: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("no TikTok account is connected")]
    NotConnected,
    #[error("the TikTok authorization has expired or was revoked; sign in again")]
    Reauthorize,
    #[error(transparent)]
    TikTok(#[from] TikTokError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Default)]
pub struct Refresher {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Refresher {
    fn lock_for(&self, open_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(open_id.to_string()).or_default().clone()
    }

    /// A usable access token for `open_id`, refreshed first when it is near expiry.
    pub async fn access_token(
        &self,
        client: &Client,
        store: &Store,
        open_id: &str,
    ) -> Result<Secret, AccessError> {
        self.token(client, store, open_id, None, now_ms()).await
    }

    /// As [`Refresher::access_token`], judged at `now` (milliseconds since the epoch): the
    /// records commands take the time as a parameter, so their tests can stand after expiry.
    pub async fn access_token_at(
        &self,
        client: &Client,
        store: &Store,
        open_id: &str,
        now: i64,
    ) -> Result<Secret, AccessError> {
        self.token(client, store, open_id, None, now).await
    }

    /// TikTok answered `access_token_invalid` for `rejected` although it had not expired by
    /// the local clock: refresh now, unless another caller already replaced it meanwhile.
    pub async fn refresh_rejected(
        &self,
        client: &Client,
        store: &Store,
        open_id: &str,
        rejected: &Secret,
    ) -> Result<Secret, AccessError> {
        self.token(client, store, open_id, Some(rejected), now_ms())
            .await
    }

    async fn token(
        &self,
        client: &Client,
        store: &Store,
        open_id: &str,
        rejected: Option<&Secret>,
        now: i64,
    ) -> Result<Secret, AccessError> {
        let lock = self.lock_for(open_id);
        let _turn = lock.lock().await;
        let t = store
            .tokens(open_id)
            .await?
            .ok_or(AccessError::NotConnected)?;
        let lifetime = t.access_expires_at.saturating_sub(t.access_issued_at);
        let margin = (MARGIN.as_millis() as i64).min(lifetime / 2);
        let was_rejected = rejected.is_some_and(|r| *r == t.access);
        if !was_rejected && now < t.access_expires_at.saturating_sub(margin) {
            return Ok(t.access);
        }
        if now >= t.refresh_expires_at {
            store.forget_connection(open_id).await?;
            return Err(AccessError::Reauthorize);
        }
        let fresh = match client.refresh(&t.refresh).await {
            Ok(r) => r,
            Err(e) if e.meaning() == Meaning::Reauthorize => {
                tracing::warn!(error = %e, "refresh refused; the account must sign in again");
                store.forget_connection(open_id).await?;
                return Err(AccessError::Reauthorize);
            }
            Err(e) => return Err(e.into()),
        };
        if fresh.open_id != open_id {
            return Err(TikTokError::Malformed {
                what: "refresh answered for another account".into(),
                log_id: fresh.log_id,
            }
            .into());
        }
        let access = fresh.access_token.clone();
        let committed = store
            .replace_tokens(
                open_id,
                TokenSet {
                    access: fresh.access_token,
                    refresh: fresh.refresh_token,
                    expires_in: fresh.expires_in,
                    refresh_expires_in: fresh.refresh_expires_in,
                    scopes: fresh.scope,
                    arrived_at: now_ms(),
                },
            )
            .await?;
        if !committed {
            return Err(AccessError::NotConnected);
        }
        Ok(access)
    }
}
