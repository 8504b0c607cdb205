//! TikTok's daily draft limit (docs/tiktok-contract.md §11): one account may hold at most
//! `tiktok.pending_share_limit` (5) pending drafts within any 24 hours, and an init past it is
//! refused with `spam_risk_too_many_pending_share` — after the operator's press, and counting
//! drafts sent from anywhere. Here it is counted from what this service sent, so the operator
//! page can say how many are left and the service can refuse before calling TikTok.

use crate::App;
use crate::store::StoreError;

/// The window TikTok counts pending drafts in.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The account's draft slots as this service knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots {
    /// Inits TikTok accepted in the last 24 hours (only those reached TikTok; a refused or never
    /// sent upload takes no slot, nor a draft TikTok reported posted).
    pub used: u32,
    pub limit: u32,
    /// When the oldest of them leaves the window, if any counts.
    pub next_free_ms: Option<i64>,
}

impl Slots {
    pub async fn of(app: &App, open_id: &str, now: i64) -> Result<Slots, StoreError> {
        let accepted = app.store.pending_shares(open_id, now - WINDOW_MS).await?;
        Ok(Slots::from_accepted(
            &accepted,
            app.config.tiktok.pending_share_limit,
        ))
    }

    /// `accepted`: when each counted init was accepted, oldest first.
    fn from_accepted(accepted: &[i64], limit: u32) -> Slots {
        Slots {
            used: u32::try_from(accepted.len()).unwrap_or(u32::MAX),
            limit,
            next_free_ms: accepted.first().map(|t| t + WINDOW_MS),
        }
    }

    /// No slot left: a send now would only be refused by TikTok.
    pub fn full(&self) -> bool {
        self.used >= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_accepted_init_frees_the_next_slot() {
        let s = Slots::from_accepted(&[1_000, 5_000, 9_000], 5);
        assert_eq!((s.used, s.full()), (3, false));
        assert_eq!(s.next_free_ms, Some(1_000 + WINDOW_MS));
        let full = Slots::from_accepted(&[1, 2, 3, 4, 5], 5);
        assert!(full.full());
        let none = Slots::from_accepted(&[], 5);
        assert_eq!(
            (none.used, none.next_free_ms, none.full()),
            (0, None, false)
        );
    }
}
