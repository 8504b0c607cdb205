//! The one way this service gives up an account's access at TikTok, used by
//! `POST /operator/disconnect` and by `mdz-callback forget`. An expired access token is
//! refreshed first, as the contract asks (docs/tiktok-contract.md §4); what TikTok's answer
//! means comes from [`Meaning`], so both callers agree on when the access has really ended.

use super::{AccessError, Client, Meaning, Refresher, TikTokError};
use crate::store::{Store, StoreError};

/// What happened at TikTok when revoking an account's access.
#[derive(Debug)]
pub enum Revocation {
    /// TikTok confirmed: the service can no longer act for the account.
    Revoked,
    /// TikTok said the access had already ended (or the stored grant had expired).
    AlreadyEnded(String),
    /// No connection was stored, so there was no token to revoke.
    NothingStored,
    /// TikTok could not be reached, or refused for a reason that leaves the grant in place
    /// (our own credentials refused, a fault on its side): the access may still be live there.
    NotRevoked(TikTokError),
}

impl Revocation {
    /// TikTok may still let this service act for the account.
    pub fn may_be_live(&self) -> bool {
        matches!(self, Revocation::NotRevoked(_))
    }
}

/// Revokes `open_id`'s access, judging token expiry at `now`. Deletes nothing itself (apart
/// from the connection of a grant the refresher finds dead): whether to forget the connection
/// afterwards is the caller's decision. A store failure, such as tokens that cannot be
/// decrypted, is returned before anything is sent.
pub async fn revoke_access(
    client: &Client,
    refresher: &Refresher,
    store: &Store,
    open_id: &str,
    now: i64,
) -> Result<Revocation, StoreError> {
    let access = match refresher.access_token_at(client, store, open_id, now).await {
        Ok(t) => t,
        Err(AccessError::NotConnected) => return Ok(Revocation::NothingStored),
        Err(AccessError::Reauthorize) => {
            return Ok(Revocation::AlreadyEnded(
                "the stored authorization had expired or TikTok no longer renews it".into(),
            ));
        }
        Err(AccessError::TikTok(e)) => return Ok(Revocation::NotRevoked(e)),
        Err(AccessError::Store(e)) => return Err(e),
    };
    Ok(revocation(client.revoke(&access).await))
}

/// TikTok's answer to the revoke itself.
fn revocation(answer: Result<(), TikTokError>) -> Revocation {
    match answer {
        Ok(()) => Revocation::Revoked,
        Err(e) if e.revoke_meaning() == Meaning::Reauthorize => {
            Revocation::AlreadyEnded(format!("TikTok: {e}"))
        }
        Err(e) => Revocation::NotRevoked(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(error: &str) -> Result<(), TikTokError> {
        Err(TikTokError::OAuth {
            error: error.into(),
            description: "d".into(),
            log_id: None,
        })
    }

    #[test]
    fn only_an_ended_grant_counts_as_ended() {
        assert!(matches!(revocation(Ok(())), Revocation::Revoked));
        for ended in ["invalid_grant", "invalid_request"] {
            assert!(
                matches!(revocation(oauth(ended)), Revocation::AlreadyEnded(_)),
                "{ended}"
            );
        }
        for live in [
            oauth("invalid_client"),
            oauth("unauthorized_client"),
            oauth("server_error"),
            Err(TikTokError::Timeout),
            Err(TikTokError::Network("reset".into())),
            Err(TikTokError::Http {
                status: 503,
                log_id: None,
            }),
        ] {
            let r = revocation(live);
            assert!(r.may_be_live(), "{r:?}");
        }
    }
}
