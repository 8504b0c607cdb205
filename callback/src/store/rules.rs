//! What the privacy policy allows for each table, in one list: which rows are about a TikTok
//! user (`export`), what `forget` does with them, and which rows `purge` deletes as expired.
//! `export`, `forget` and `purge` read only this list, and a test fails when a table of the
//! schema has no entry here, so a new table is covered by adding one entry (and its section in
//! `docs/data-inventory.md`).
//!
//! The SQL fragments are constants written here, never built from input. They may use these
//! parameters: `:open_id` (the user asked about), `:now`, `:idle_cutoff` (sessions last seen
//! before it are idle-expired) and `:retention_cutoff` (`:now` minus `callback.retention_days`).

/// How rows relate to a TikTok user.
#[derive(Debug, Clone, Copy)]
pub enum About {
    /// The rows about `:open_id` are those matching this `WHERE` condition.
    Where(&'static str),
    /// No row is about a TikTok user; the text says why (shown in `export` and `forget`).
    Nobody(&'static str),
}

/// What `forget` does with the table.
#[derive(Debug, Clone, Copy)]
pub enum Forget {
    /// Deletes the rows [`About::Where`] selects (none, for [`About::Nobody`]).
    Delete,
    /// Deletes every row: none is tied to an account yet, so any one may be this user's.
    DeleteAll { why: &'static str },
    /// Keeps the user's rows for this reason; `purge` deletes them when `age_column` is older
    /// than `callback.retention_days`.
    Keep {
        why: &'static str,
        age_column: &'static str,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub table: &'static str,
    /// What a row is, in the words `export` and `forget` print.
    pub what: &'static str,
    pub about: About,
    /// Columns `export` never shows, with what it says instead. Besides these, every column
    /// named `*_enc` (ciphertexts) and every BLOB value are withheld whatever the list says.
    pub withheld: &'static [(&'static str, &'static str)],
    /// Rows `purge` deletes, or `None` when nothing in the table expires by itself.
    pub expired: Option<&'static str>,
    pub forget: Forget,
}

/// What the export says instead of a token.
pub const TOKENS_WITHHELD: &str = "tokens: stored encrypted, not disclosed";

/// Every table, in the order `forget` and `purge` visit them: rows that reference another table
/// come before it, so each deletion is counted before a cascade could remove rows unseen.
pub const RULES: &[Rule] = &[
    Rule {
        table: "sessions",
        what: "operator sessions (sign-ins to the operator page)",
        about: About::Where("open_id = :open_id"),
        withheld: &[
            (
                "id_hash",
                "hash of the session cookie: a credential, not disclosed",
            ),
            ("csrf", "form protection token: a credential, not disclosed"),
        ],
        // Idle-expired sessions, and those of a connection `purge` deletes below.
        expired: Some(
            "last_seen_at < :idle_cutoff OR open_id IN
                (SELECT open_id FROM connections WHERE refresh_expires_at <= :now)",
        ),
        forget: Forget::Delete,
    },
    Rule {
        table: "connections",
        what: "the connected TikTok account (profile, granted scopes, encrypted tokens)",
        about: About::Where("open_id = :open_id"),
        withheld: &[
            ("access_token_enc", TOKENS_WITHHELD),
            ("refresh_token_enc", TOKENS_WITHHELD),
        ],
        // The integration ends for an account when TikTok's refresh token has expired: the
        // service can no longer act for it, and a new sign-in replaces the record anyway.
        expired: Some("refresh_expires_at <= :now"),
        forget: Forget::Delete,
    },
    Rule {
        table: "auth_states",
        what: "sign-ins in progress (at most 10 minutes old)",
        about: About::Nobody(
            "a sign-in in progress names no TikTok account; its state is deleted the moment TikTok sends the browser back",
        ),
        withheld: &[(
            "state_hash",
            "hash of the sign-in state: a credential, not disclosed",
        )],
        expired: Some("expires_at <= :now"),
        forget: Forget::DeleteAll {
            why: "pending sign-ins name no account, so any of them may be this user's",
        },
    },
    Rule {
        table: "security_events",
        what: "security log entries that name this account (sign-ins, disconnects, refused accounts)",
        // Only these kinds put an open_id in `detail`; every other event carries a client
        // address and no account, so it cannot be linked to a TikTok user.
        about: About::Where(
            "detail = :open_id AND kind IN ('signin', 'disconnect', 'wrong_account', 'no_expected_account')",
        ),
        withheld: &[],
        expired: Some("at < :retention_cutoff"),
        forget: Forget::Keep {
            why: "kept for abuse prevention, as the privacy policy allows (\"Some records may be retained when required for security, legal, or abuse-prevention reasons.\")",
            age_column: "at",
        },
    },
    Rule {
        table: "uploads",
        what: "draft uploads handed to this account's TikTok inbox (asset label, file name, status, TikTok's publish_id, timestamps)",
        about: About::Where("open_id = :open_id"),
        withheld: &[(
            "upload_url_enc",
            "TikTok's upload address for resuming: carries an upload token, stored encrypted, not disclosed",
        )],
        // The policy keeps upload workflow records "while the integration is active": once the
        // account is no longer connected, finished uploads go after the retention period.
        expired: Some(
            "state NOT IN ('queued', 'uploading', 'processing') AND updated_at < :retention_cutoff
                AND open_id NOT IN (SELECT open_id FROM connections)",
        ),
        forget: Forget::Delete,
    },
    Rule {
        table: "asset_reviews",
        what: "the operator's review decisions on videos of the asset manifest",
        about: About::Nobody(
            "a review decision is about one of the operator's own video files (label, file name, size, SHA-256, who decided and when), not about a TikTok user",
        ),
        withheld: &[],
        // Operator review state: needed for as long as the asset may be uploaded.
        expired: None,
        forget: Forget::Delete,
    },
    Rule {
        table: "webhook_events",
        what: "events TikTok sent about this account (access removed, draft outcomes), and what this service did with each",
        about: About::Where("user_openid = :open_id"),
        withheld: &[(
            "dedup_key",
            "hash of the event's fields, used to recognise a redelivery: derived, not disclosed",
        )],
        // Kept for the retention period: long enough to recognise TikTok's redeliveries (up to
        // 72 hours, docs/tiktok-contract.md §13) and to show the operator why access ended. A
        // redelivery after the purge would find nothing left to change twice: a removal older
        // than the connection and an outcome for an ended upload change nothing.
        expired: Some("received_at < :retention_cutoff"),
        forget: Forget::Delete,
    },
];

/// The rule for `table`, if there is one.
pub fn rule(table: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.table == table)
}
