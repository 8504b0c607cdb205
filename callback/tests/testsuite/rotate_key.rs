//! `mdz-callback rotate-key` as an operator runs it: after a real sign-in against the
//! simulator, the stored tokens (and a sign-in in progress) move to the new key; the service
//! started with the new key uses them, the old key opens nothing, and every refusal (wrong
//! current key, bad or missing new key, the same key twice) leaves the database as it was.

use crate::common;
use std::path::Path;

use crate::common::child::{Service, env, free_port, run};
use crate::common::{OPEN_ID, SITE};
use mdz_callback::http::{SESSION_COOKIE, STATE_COOKIE};
use mdz_callback::secrets::TokenKey;
use mdz_callback::store::{Cipher, DB_FILE, Store, StoreError};
use mdz_tiktok_sim::{Endpoint, SimOptions};

const OLD: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const NEW: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const WRONG: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

fn key(hex_key: &str) -> TokenKey {
    let mut b = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut b).unwrap();
    TokenKey::from_bytes(b)
}

/// Every encrypted value in the database, as stored.
fn ciphertexts(data: &Path) -> Vec<Vec<u8>> {
    let c = rusqlite::Connection::open(data.join(DB_FILE)).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT access_token_enc FROM connections",
        "SELECT refresh_token_enc FROM connections",
        "SELECT verifier_enc FROM auth_states",
    ] {
        let mut stmt = c.prepare(sql).unwrap();
        out.extend(
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    out
}

#[tokio::test]
async fn rotated_tokens_open_under_the_new_key_only_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let sim = common::simulator_for(&base, SimOptions::default()).await;
    std::fs::write(d.join("config.toml"), SITE).unwrap();
    let service_env = |token_key: &str| {
        env(&[
            ("TIKTOK_CLIENT_KEY", "sim-client-key"),
            ("TIKTOK_CLIENT_SECRET", "sim-client-secret"),
            ("MDZ_TOKEN_KEY", token_key),
            ("MDZ_TIKTOK_AUTH_URL", &sim.auth_url()),
            ("MDZ_TIKTOK_API_BASE", &sim.api_base()),
            ("MDZ_CALLBACK_LISTEN", &format!("127.0.0.1:{port}")),
            ("MDZ_CALLBACK_PUBLIC_URL", &base),
            ("MDZ_CALLBACK_DATA_DIR", "data"),
            ("MDZ_CALLBACK_EXPECTED_OPEN_ID", OPEN_ID),
        ])
    };
    let browser = common::Browser::new(&base);
    let health = format!("{base}/healthz");

    // Under the old key: a full sign-in, and a second one left half-way (its PKCE verifier
    // waits encrypted in auth_states).
    let service = Service::start(d, &service_env(OLD), &health).await;
    let session = browser.signed_in().await;
    let pending = browser.begin().await;
    let pending_back = browser.authorize(&pending).await;
    service.stop();

    let stored = Store::open(&data, Cipher::new(&key(OLD))).unwrap();
    let tokens = stored.tokens(OPEN_ID).await.unwrap().unwrap();
    let (access, refresh) = (
        tokens.access.expose().to_string(),
        tokens.refresh.expose().to_string(),
    );
    drop(stored);
    assert!(sim.token_is_live(&access));
    let before = ciphertexts(&data);
    assert_eq!(before.len(), 3, "two tokens and one verifier");

    // Refusals: nothing changes.
    let new_file = d.join("new-key");
    std::fs::write(&new_file, format!("{NEW}\n")).unwrap();
    let new_file = new_file.to_str().unwrap();
    for (what, pairs, expect) in [
        (
            "wrong current key",
            vec![
                ("MDZ_TOKEN_KEY", WRONG),
                ("MDZ_NEW_TOKEN_KEY_FILE", new_file),
            ],
            "connections row 1 (open_id sim-open-id-0001): access_token_enc does not decrypt under MDZ_TOKEN_KEY",
        ),
        (
            "no new key",
            vec![("MDZ_TOKEN_KEY", OLD)],
            "MDZ_NEW_TOKEN_KEY is not set",
        ),
        (
            "a new key that is not 64 hex characters",
            vec![("MDZ_TOKEN_KEY", OLD), ("MDZ_NEW_TOKEN_KEY", "0123abcd")],
            "MDZ_NEW_TOKEN_KEY must be exactly 64 hexadecimal characters",
        ),
        (
            "no current key",
            vec![("MDZ_NEW_TOKEN_KEY", NEW)],
            "MDZ_TOKEN_KEY is not set",
        ),
        (
            "the same key twice",
            vec![("MDZ_TOKEN_KEY", OLD), ("MDZ_NEW_TOKEN_KEY", OLD)],
            "MDZ_NEW_TOKEN_KEY is the same key as MDZ_TOKEN_KEY",
        ),
    ] {
        let (code, out, err) = run(d, &["rotate-key"], &env(&pairs));
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert!(err.contains(expect), "{what}: {err}");
        assert!(
            !err.contains("0123abcd") && !err.contains(OLD),
            "{what}: {err}"
        );
        assert_eq!(ciphertexts(&data), before, "{what} changed the database");
    }
    let (_, _, err) = run(
        d,
        &["rotate-key"],
        &env(&[("MDZ_TOKEN_KEY", WRONG), ("MDZ_NEW_TOKEN_KEY", NEW)]),
    );
    assert!(err.contains("database is unchanged"), "{err}");

    // The rotation.
    let (code, out, err) = run(
        d,
        &["rotate-key"],
        &env(&[("MDZ_TOKEN_KEY", OLD), ("MDZ_NEW_TOKEN_KEY_FILE", new_file)]),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("re-encrypted 3 stored values"), "{out}");
    assert!(
        out.contains("install the new key as MDZ_TOKEN_KEY") && out.contains("restart"),
        "{out}"
    );
    assert!(
        !out.contains(NEW) && !err.contains(NEW),
        "the key was printed"
    );
    let after = ciphertexts(&data);
    assert_eq!(after.len(), 3);
    for (a, b) in after.iter().zip(&before) {
        assert_ne!(a, b, "a value was left as it was");
    }

    // The old key opens nothing; the new one opens the same tokens.
    let old_store = Store::open(&data, Cipher::new(&key(OLD))).unwrap();
    assert!(matches!(
        old_store.tokens(OPEN_ID).await,
        Err(StoreError::Open(_))
    ));
    drop(old_store);
    let new_store = Store::open(&data, Cipher::new(&key(NEW))).unwrap();
    let t = new_store.tokens(OPEN_ID).await.unwrap().unwrap();
    assert_eq!(
        (t.access.expose(), t.refresh.expose()),
        (access.as_str(), refresh.as_str())
    );
    drop(new_store);

    // The service with the new key: the session still opens the operator page, and disconnect
    // decrypts the access token to revoke it at TikTok.
    let service = Service::start(d, &service_env(NEW), &health).await;
    let op = browser
        .get("/operator", &[(SESSION_COOKIE, &session)])
        .await;
    assert_eq!(op.status, 200, "{}", op.body);
    assert!(op.body.contains("Mira Demo"), "{}", op.body);
    let csrf = common::csrf_of(&op.body);
    let r = browser
        .post(
            "/operator/disconnect",
            &[(SESSION_COOKIE, &session)],
            &common::disconnect_form(&csrf),
            &[("origin", &base)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("disconnected"), "{}", r.body);
    assert_eq!(sim.calls(Endpoint::Revoke), 1);
    assert!(!sim.token_is_live(&access), "the token was not revoked");
    assert_eq!(sim.live_tokens(OPEN_ID), 0);

    // The sign-in begun under the old key finishes: its verifier was re-encrypted too.
    let finished = browser
        .get(&pending_back, &[(STATE_COOKIE, &pending.cookie)])
        .await;
    assert_eq!(finished.status, 200, "{}", finished.body);
    assert_eq!(sim.live_tokens(OPEN_ID), 1);
    let logs = service.stop();
    assert!(!logs.contains("could not be decrypted"), "{logs}");
    sim.shutdown().await;
}
