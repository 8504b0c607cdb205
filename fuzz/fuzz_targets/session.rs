//! The state and session lookups a stranger drives: a callback's query and `Cookie` header go
//! through the same parsing, comparison and database lookups as `/auth/tiktok/callback` and
//! `/operator`. Only the exact state and session values ever match, lookups never fail, and
//! nothing panics.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, header::COOKIE};
use libfuzzer_sys::fuzz_target;
use mdz_callback::http::{SESSION_COOKIE, STATE_COOKIE, cookie_value, parse_form};
use mdz_callback::secrets::{Secret, TokenKey};
use mdz_callback::store::{Cipher, Profile, Store, TokenSet};

const STATE: &str = "kM9r2QxUeQ3pV1yZbT8wL0sN4hJ6fD2cA7gE5iO9uYw";
const SESSION: &str = "Zq3Xw8Rt1Yu6Io9Pa2Sd5Fg7Hj0Kl4Zx1Cv3Bn5Mq7W";
const OPEN_ID: &str = "fuzz-open-id";
const HOUR: Duration = Duration::from_secs(3600);

struct World {
    rt: tokio::runtime::Runtime,
    store: Store,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Cipher::new(&TokenKey::random())).unwrap();
        rt.block_on(async {
            store
                .put_state(
                    STATE,
                    &Secret::new("verifier"),
                    mdz_callback::now_ms(),
                    HOUR,
                )
                .await
                .unwrap();
            store
                .save_connection(
                    Profile {
                        open_id: OPEN_ID.into(),
                        union_id: "u".into(),
                        display_name: "Fuzz".into(),
                        avatar_url: String::new(),
                    },
                    TokenSet {
                        access: Secret::new("a"),
                        refresh: Secret::new("r"),
                        expires_in: 86_400,
                        refresh_expires_in: 86_400,
                        scopes: "user.info.basic,video.upload".into(),
                        arrived_at: mdz_callback::now_ms(),
                    },
                )
                .await
                .unwrap();
            store
                .create_session(SESSION, OPEN_ID, "csrf", mdz_callback::now_ms())
                .await
                .unwrap();
        });
        World {
            rt,
            store,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    // First line: the query string; the other lines: `Cookie` headers.
    let mut lines = data.split(|b| *b == b'\n');
    let Ok(query) = std::str::from_utf8(lines.next().unwrap_or_default()) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines.take(4) {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, v);
        }
    }
    let w = world();
    w.rt.block_on(async {
        if let Some(session) = cookie_value(&headers, SESSION_COOKIE) {
            let found = w
                .store
                .session(&session, mdz_callback::now_ms(), HOUR)
                .await
                .unwrap();
            assert_eq!(found.is_some(), session == SESSION, "{session:?}");
        }
        let Ok(q) = parse_form(query) else { return };
        let (Some(state), Some(cookie)) = (q.get("state"), cookie_value(&headers, STATE_COOKIE))
        else {
            return;
        };
        // The callback's order: the state must equal its cookie before the table is asked.
        if state != &cookie || state.is_empty() {
            return;
        }
        let taken = w.store.take_state(state).await.unwrap();
        assert_eq!(taken.is_some(), state == STATE, "{state:?}");
        if taken.is_some() {
            // Put it back for the next input.
            w.store
                .put_state(
                    STATE,
                    &Secret::new("verifier"),
                    mdz_callback::now_ms(),
                    HOUR,
                )
                .await
                .unwrap();
        }
    });
});
