//! Every page the service shows, rendered from `templates/callback/` inside the static site's
//! chrome. The templates are compiled in, so a deployed binary needs no template folder.

use hyper::StatusCode;
use serde::Serialize;
use serde_json::json;
use tera::{Context, Tera};

use mdz::Config;
use mdz::chrome::{BASE_TEMPLATE, NAV, STYLE};

const TEMPLATES: &[(&str, &str)] = &[
    (
        "signed_in.html",
        include_str!("../../templates/callback/signed_in.html"),
    ),
    (
        "declined.html",
        include_str!("../../templates/callback/declined.html"),
    ),
    (
        "missing_scope.html",
        include_str!("../../templates/callback/missing_scope.html"),
    ),
    (
        "wrong_account.html",
        include_str!("../../templates/callback/wrong_account.html"),
    ),
    (
        "no_expected_account.html",
        include_str!("../../templates/callback/no_expected_account.html"),
    ),
    (
        "bad_state.html",
        include_str!("../../templates/callback/bad_state.html"),
    ),
    (
        "tiktok_unavailable.html",
        include_str!("../../templates/callback/tiktok_unavailable.html"),
    ),
    (
        "rate_limited.html",
        include_str!("../../templates/callback/rate_limited.html"),
    ),
    (
        "not_found.html",
        include_str!("../../templates/callback/not_found.html"),
    ),
    (
        "error.html",
        include_str!("../../templates/callback/error.html"),
    ),
    (
        "operator.html",
        include_str!("../../templates/callback/operator.html"),
    ),
    (
        "disconnected.html",
        include_str!("../../templates/callback/disconnected.html"),
    ),
    (
        "upload.html",
        include_str!("../../templates/callback/upload.html"),
    ),
    (
        "upload_refused.html",
        include_str!("../../templates/callback/upload_refused.html"),
    ),
    (
        "second_draft.html",
        include_str!("../../templates/callback/second_draft.html"),
    ),
    (
        "disconnect.html",
        include_str!("../../templates/callback/disconnect.html"),
    ),
];

/// What the operator page shows of the connected account.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorView {
    pub display_name: String,
    /// As TikTok sent it; empty when it is not an http(s) URL we can allow in the CSP.
    pub avatar_url: String,
    pub scopes: Vec<String>,
    pub connected_on: String,
    pub csrf: String,
    /// Approved assets, each with an upload button unless `problem` says why not.
    pub assets: Vec<AssetItem>,
    pub uploads: Vec<UploadItem>,
    /// Why no assets can be listed (no manifest, a broken one); empty when all is well.
    pub manifest_note: String,
    /// Assets in the manifest with no review decision yet.
    pub unreviewed: usize,
    /// TikTok's daily draft limit as it stands for this account.
    pub drafts: DraftsView,
}

/// The account's pending-draft slots (docs/tiktok-contract.md §11).
#[derive(Debug, Clone, Serialize)]
pub struct DraftsView {
    pub used: u32,
    pub limit: u32,
    /// When the next slot frees (UTC, to the minute); empty when none is taken.
    pub next_free: String,
    pub full: bool,
}

/// One approved asset on the operator page.
#[derive(Debug, Clone, Serialize)]
pub struct AssetItem {
    pub label: String,
    pub title: String,
    pub size: String,
    pub approved_by: String,
    pub approved_on: String,
    /// Why it cannot be sent now (file missing or changed, caption changed); empty when it can.
    pub problem: String,
    /// Where it stands with TikTok, from its latest upload ("Never sent.", "In the TikTok
    /// inbox since …").
    pub state: String,
    /// That latest upload, for a link.
    pub upload: Option<i64>,
    /// Being sent now: its button leads to the second-draft confirmation, which says so.
    pub running: bool,
    /// A draft of it is (or may be) in the inbox: the button says a second one is made.
    pub second_draft: bool,
    /// The video as measured at approval (duration, resolution, frame rate, codec); empty for
    /// an approval from before the video check.
    pub media: String,
    /// The caption approved with it; empty when none.
    pub caption: String,
}

/// The page that asks before a second draft of a video is sent.
#[derive(Debug, Clone, Serialize)]
pub struct SecondDraftView {
    pub label: String,
    pub title: String,
    /// The latest upload of it and where it stands.
    pub previous: i64,
    pub previous_state: String,
    /// It is still being sent: the page says a second would wait for it.
    pub previous_running: bool,
    /// It is still being sent and TikTok has not yet accepted it, so its slot is not in
    /// `drafts.used` yet but is in `used_after`.
    pub previous_uncounted: bool,
    pub csrf: String,
    pub drafts: DraftsView,
    /// Drafts counted in the last 24 hours once this one is sent.
    pub used_after: u32,
}

/// The page that asks before the account is disconnected.
#[derive(Debug, Clone, Serialize)]
pub struct DisconnectView {
    pub display_name: String,
    pub csrf: String,
    /// Uploads still running: each is stopped, and the page says what that means for it.
    pub running: Vec<RunningItem>,
}

/// An upload named on the disconnect pages.
#[derive(Debug, Clone, Serialize)]
pub struct RunningItem {
    pub id: i64,
    pub title: String,
    pub state_label: &'static str,
    /// What the disconnect does (did) to it.
    pub effect: String,
}

/// One line of the operator page's recent uploads.
#[derive(Debug, Clone, Serialize)]
pub struct UploadItem {
    pub id: i64,
    pub title: String,
    pub state_label: &'static str,
    pub when: String,
}

/// The status page of one upload.
#[derive(Debug, Clone, Serialize)]
pub struct UploadView {
    pub id: i64,
    pub title: String,
    pub label: String,
    pub file_name: String,
    pub size: u64,
    pub size_text: String,
    /// Of the approved file, as sent: what the TikTok inbox's draft can be compared with.
    pub sha256: String,
    /// The state's name in the records (`in_inbox`, …), for the template to branch on.
    pub state: &'static str,
    pub state_label: &'static str,
    /// The service is still working on it: the page refreshes itself.
    pub running: bool,
    pub bytes_sent: u64,
    pub percent: u32,
    pub sent_text: String,
    pub publish_id: String,
    pub tiktok_status: String,
    pub created: String,
    pub updated: String,
    pub finished: String,
    pub error_code: String,
    pub error_message: String,
    pub log_id: String,
    pub csrf: String,
    /// Finished without reaching TikTok's inbox: offer to start again.
    pub can_retry: bool,
    /// The operator has not turned the automatic refresh off.
    pub refreshing: bool,
    pub refresh_secs: u64,
    /// The operator pressed send again while this upload was running, and landed here instead
    /// of starting a second one.
    pub again: bool,
    /// The caption approved with the video, for the creator to paste in TikTok; empty when
    /// none.
    pub caption: String,
}

#[derive(Debug, Clone)]
pub enum Page {
    SignedIn {
        display_name: String,
    },
    Declined {
        description: String,
    },
    MissingScope {
        missing: Vec<String>,
    },
    WrongAccount {
        display_name: String,
    },
    NoExpectedAccount {
        open_id: String,
        display_name: String,
    },
    BadState {
        reason: &'static str,
        /// The browser already has a live operator session (of this display name): the link
        /// was most likely used to sign in, and the page says so instead of asking to sign in.
        signed_in_as: Option<String>,
    },
    /// TikTok failed or refused; `status` is 502 for TikTok trouble, 400 when starting over helps.
    TikTok {
        status: StatusCode,
        what: String,
        advice: String,
        log_id: String,
        retry_href: &'static str,
        retry_label: &'static str,
    },
    RateLimited {
        retry_after: u64,
    },
    NotFound,
    Operator(OperatorView),
    Disconnected {
        message: String,
        /// Uploads the disconnect stopped, each with what became of it.
        stopped: Vec<RunningItem>,
    },
    DisconnectConfirm(Box<DisconnectView>),
    SecondDraft(Box<SecondDraftView>),
    Upload(Box<UploadView>),
    /// An upload request refused before anything was sent: unknown, unapproved or changed.
    UploadRefused {
        status: StatusCode,
        heading: &'static str,
        reason: String,
        remedy: String,
        /// A command that fixes it, shown as code; empty when there is none.
        command: String,
    },
    /// Everything else: bad requests, limits, a missing session, server trouble.
    Error {
        status: StatusCode,
        heading: &'static str,
        message: String,
        action: Option<(&'static str, &'static str)>,
    },
}

impl Page {
    pub fn status(&self) -> StatusCode {
        match self {
            Page::SignedIn { .. }
            | Page::Operator(_)
            | Page::Disconnected { .. }
            | Page::DisconnectConfirm(_)
            | Page::SecondDraft(_)
            | Page::Upload(_) => StatusCode::OK,
            Page::UploadRefused { status, .. } => *status,
            Page::Declined { .. }
            | Page::MissingScope { .. }
            | Page::WrongAccount { .. }
            | Page::NoExpectedAccount { .. } => StatusCode::FORBIDDEN,
            Page::BadState { .. } => StatusCode::BAD_REQUEST,
            Page::TikTok { status, .. } | Page::Error { status, .. } => *status,
            Page::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Page::NotFound => StatusCode::NOT_FOUND,
        }
    }

    fn template(&self) -> &'static str {
        match self {
            Page::SignedIn { .. } => "signed_in.html",
            Page::Declined { .. } => "declined.html",
            Page::MissingScope { .. } => "missing_scope.html",
            Page::WrongAccount { .. } => "wrong_account.html",
            Page::NoExpectedAccount { .. } => "no_expected_account.html",
            Page::BadState { .. } => "bad_state.html",
            Page::TikTok { .. } => "tiktok_unavailable.html",
            Page::RateLimited { .. } => "rate_limited.html",
            Page::NotFound => "not_found.html",
            Page::Operator(_) => "operator.html",
            Page::Disconnected { .. } => "disconnected.html",
            Page::DisconnectConfirm(_) => "disconnect.html",
            Page::SecondDraft(_) => "second_draft.html",
            Page::Upload(_) => "upload.html",
            Page::UploadRefused { .. } => "upload_refused.html",
            Page::Error { .. } => "error.html",
        }
    }

    /// (title, description) for `<title>` and the meta description.
    fn heading(&self) -> (&'static str, &'static str) {
        match self {
            Page::SignedIn { .. } => ("Signed in", "The TikTok account is connected."),
            Page::Declined { .. } => (
                "Authorization declined",
                "TikTok authorization was not granted.",
            ),
            Page::MissingScope { .. } => (
                "Permission missing",
                "The sign-in was refused because a required TikTok permission was not granted.",
            ),
            Page::WrongAccount { .. } => (
                "Wrong account",
                "The sign-in was refused because it was not the intended TikTok account.",
            ),
            Page::NoExpectedAccount { .. } => (
                "Choose the operated account",
                "No TikTok account has been chosen as the operated account yet.",
            ),
            Page::BadState {
                signed_in_as: Some(_),
                ..
            } => (
                "Already signed in",
                "This sign-in link was already used; this browser is signed in.",
            ),
            Page::BadState { .. } => (
                "Sign-in link not valid",
                "This sign-in link is no longer valid.",
            ),
            Page::TikTok { .. } => (
                "TikTok unavailable",
                "TikTok could not complete the request.",
            ),
            Page::RateLimited { .. } => {
                ("Too many requests", "Too many requests from this address.")
            }
            Page::NotFound => ("Page not found", "There is no page at this address."),
            Page::Operator(_) => ("Operator", "The connected TikTok account and its drafts."),
            Page::Disconnected { .. } => ("Disconnected", "The TikTok account was disconnected."),
            Page::DisconnectConfirm(_) => (
                "Disconnect the TikTok account?",
                "What disconnecting the TikTok account does, before it is done.",
            ),
            Page::SecondDraft(_) => (
                "Send a second draft?",
                "This video was sent before; sending it again makes a second draft.",
            ),
            Page::Upload(_) => (
                "Draft upload",
                "The status of one video handed to TikTok as a draft.",
            ),
            Page::UploadRefused { heading, .. } => (heading, "The video was not sent to TikTok."),
            Page::Error { heading, .. } => (heading, "The request could not be completed."),
        }
    }

    fn fill(&self, ctx: &mut Context) {
        match self {
            Page::SignedIn { display_name } | Page::WrongAccount { display_name } => {
                ctx.insert("display_name", display_name);
            }
            Page::Declined { description } => ctx.insert("description", description),
            Page::MissingScope { missing } => ctx.insert("missing", missing),
            Page::NoExpectedAccount {
                open_id,
                display_name,
            } => {
                ctx.insert("open_id", open_id);
                ctx.insert("display_name", display_name);
            }
            Page::BadState {
                reason,
                signed_in_as,
            } => {
                ctx.insert("reason", reason);
                ctx.insert("signed_in_as", signed_in_as.as_deref().unwrap_or(""));
            }
            Page::TikTok {
                what,
                advice,
                log_id,
                retry_href,
                retry_label,
                ..
            } => {
                ctx.insert("what", what);
                ctx.insert("advice", advice);
                ctx.insert("log_id", log_id);
                ctx.insert("retry_href", retry_href);
                ctx.insert("retry_label", retry_label);
            }
            Page::RateLimited { retry_after } => ctx.insert("retry_after", retry_after),
            Page::NotFound => {}
            Page::Operator(view) => {
                for (k, v) in [
                    ("display_name", &view.display_name),
                    ("avatar_url", &view.avatar_url),
                    ("connected_on", &view.connected_on),
                    ("csrf", &view.csrf),
                ] {
                    ctx.insert(k, v);
                }
                ctx.insert("scopes", &view.scopes);
                ctx.insert("assets", &view.assets);
                ctx.insert("uploads", &view.uploads);
                ctx.insert("manifest_note", &view.manifest_note);
                ctx.insert("unreviewed", &view.unreviewed);
                ctx.insert("drafts", &view.drafts);
            }
            Page::Upload(view) => insert_all(ctx, view),
            Page::SecondDraft(view) => insert_all(ctx, view),
            Page::DisconnectConfirm(view) => insert_all(ctx, view),
            Page::UploadRefused {
                heading,
                reason,
                remedy,
                command,
                ..
            } => {
                ctx.insert("heading", heading);
                ctx.insert("reason", reason);
                ctx.insert("remedy", remedy);
                ctx.insert("command", command);
            }
            Page::Disconnected { message, stopped } => {
                ctx.insert("message", message);
                ctx.insert("stopped", stopped);
            }
            Page::Error {
                heading,
                message,
                action,
                ..
            } => {
                ctx.insert("heading", heading);
                ctx.insert("message", message);
                ctx.insert("action_href", &action.map(|a| a.0).unwrap_or(""));
                ctx.insert("action_label", &action.map(|a| a.1).unwrap_or(""));
            }
        }
    }
}

/// Every field of `view` as a template variable of its own name.
fn insert_all(ctx: &mut Context, view: &impl Serialize) {
    if let Ok(tera::Value::Object(map)) = tera::to_value(view) {
        for (k, v) in map {
            ctx.insert(k, &v);
        }
    }
}

pub struct Pages {
    tera: Tera,
    site: serde_json::Value,
}

impl Pages {
    pub fn new(config: &Config) -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        let mut all = vec![("base.html", BASE_TEMPLATE)];
        all.extend_from_slice(TEMPLATES);
        tera.add_raw_templates(all)?;
        // Check every template once at start-up rather than on the first unlucky request.
        let pages = Self {
            tera,
            site: json!({
                "title": config.site.title,
                "language": config.site.language,
                "contact": config.site.contact,
            }),
        };
        for page in samples() {
            pages.try_render(&page)?;
        }
        Ok(pages)
    }

    /// The page as HTML.
    pub fn render(&self, page: &Page) -> String {
        self.try_render(page).unwrap_or_else(|e| {
            tracing::error!(error = %e, template = page.template(), "page rendering failed");
            FALLBACK.to_string()
        })
    }

    fn try_render(&self, page: &Page) -> Result<String, tera::Error> {
        let (title, description) = page.heading();
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx.insert(
            "page",
            // No path: none of the service's pages is a page of the site's navigation, so none
            // may mark an entry current (a 404 at /privacy/ in `demo` marked "Privacy").
            &json!({"title": title, "description": description, "permalink": "", "path": ""}),
        );
        ctx.insert("nav", &NAV);
        ctx.insert("style", STYLE);
        page.fill(&mut ctx);
        self.tera.render(page.template(), &ctx)
    }
}

/// Why a sign-in link is refused in a browser that is signed in: a refresh or Back after
/// signing in replays the callback, whose state was used up by that very sign-in.
pub const USED_WHILE_SIGNED_IN: &str =
    "This sign-in link was already used: it signed this browser in, and each link works only once.";

/// Shown only if a compiled-in template fails at run time, which start-up checks rule out.
const FALLBACK: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head><body><main><h1>Something went wrong</h1><p>Please try again later.</p></main></body></html>";

const SAMPLE_AVATAR: &str = "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%20viewBox='0%200%202%202'%3E%3Ccircle%20cx='1'%20cy='1'%20r='1'%20fill='%236b4fa0'/%3E%3C/svg%3E";

/// One example of every page, with sample data: rendered at start-up as a check, and by
/// `mdz-callback sample-pages` for the page checker.
pub fn samples() -> Vec<Page> {
    let mut pages = vec![
        Page::SignedIn {
            display_name: "Mira Demo".into(),
        },
        Page::Declined {
            description: "The user denied the authorization request.".into(),
        },
        Page::MissingScope {
            missing: vec!["video.upload".into()],
        },
        Page::WrongAccount {
            display_name: "Someone Else".into(),
        },
        Page::NoExpectedAccount {
            open_id: "sim-open-id-0001".into(),
            display_name: "Mira Demo".into(),
        },
        Page::BadState {
            reason: "This sign-in link was already used or has expired.",
            signed_in_as: None,
        },
        Page::BadState {
            reason: USED_WHILE_SIGNED_IN,
            signed_in_as: Some("Mira Demo".into()),
        },
        Page::TikTok {
            status: StatusCode::BAD_GATEWAY,
            what: "TikTok did not answer in time.".into(),
            advice: "No account was connected.".into(),
            log_id: "202605021200000000000000000".into(),
            retry_href: "/auth/tiktok/start",
            retry_label: "start a new sign-in",
        },
        Page::RateLimited { retry_after: 12 },
        Page::NotFound,
        Page::Operator(OperatorView {
            display_name: "Mira Demo".into(),
            // Inline, so the page checker sees no third-party request; live pages show
            // TikTok's CDN URL and allow exactly its origin.
            avatar_url: SAMPLE_AVATAR.into(),
            scopes: vec!["user.info.basic".into(), "video.upload".into()],
            connected_on: "2026-05-02 12:00".into(),
            csrf: "sample-csrf-token".into(),
            assets: vec![
                AssetItem {
                    label: "spring-teaser".into(),
                    title: "Spring teaser".into(),
                    size: "48.2 MB".into(),
                    approved_by: "Mira".into(),
                    approved_on: "2026-05-02 11:58".into(),
                    problem: String::new(),
                    state: "In the TikTok inbox since 2026-05-02 12:03 UTC.".into(),
                    upload: Some(7),
                    running: false,
                    second_draft: true,
                    media: "0:15.0, 1080x1920, 30 fps, H.264 in MP4".into(),
                    caption: "Spring is here at the studio. #spring #ceramics".into(),
                },
                AssetItem {
                    label: "studio-tour".into(),
                    title: "Studio tour".into(),
                    size: "1.2 GB".into(),
                    approved_by: "Mira".into(),
                    approved_on: "2026-05-01 09:10".into(),
                    problem: "The file has changed since it was approved; review it and approve it again.".into(),
                    state: "Failed at 2026-05-01 09:15 UTC because: TikTok could not be reached or had an internal error, also after retrying. Try again in a few minutes.".into(),
                    upload: Some(6),
                    running: false,
                    second_draft: false,
                    media: "2:41.5, 2160x3840, 29.97 fps, H.265 in MOV".into(),
                    caption: String::new(),
                },
                AssetItem {
                    label: "behind-the-scenes".into(),
                    title: "Behind the scenes".into(),
                    size: "96.0 MB".into(),
                    approved_by: "Mira".into(),
                    approved_on: "2026-05-02 11:59".into(),
                    problem: String::new(),
                    state: "Sending to TikTok now (41% sent).".into(),
                    upload: Some(8),
                    running: true,
                    second_draft: true,
                    media: String::new(),
                    caption: String::new(),
                },
                AssetItem {
                    label: "new-logo".into(),
                    title: "New logo".into(),
                    size: "3.1 MB".into(),
                    approved_by: "Mira".into(),
                    approved_on: "2026-05-02 12:10".into(),
                    problem: String::new(),
                    state: "Never sent.".into(),
                    upload: None,
                    running: false,
                    second_draft: false,
                    media: String::new(),
                    caption: String::new(),
                },
            ],
            uploads: vec![
                UploadItem {
                    id: 8,
                    title: "Behind the scenes".into(),
                    state_label: crate::handoff::plain_state(crate::store::UploadState::Uploading),
                    when: "2026-05-02 12:14".into(),
                },
                UploadItem {
                    id: 7,
                    title: "Spring teaser".into(),
                    state_label: "In the TikTok inbox",
                    when: "2026-05-02 12:03".into(),
                },
                UploadItem {
                    id: 6,
                    title: "Studio tour".into(),
                    state_label: "Failed",
                    when: "2026-05-01 09:15".into(),
                },
            ],
            manifest_note: String::new(),
            unreviewed: 1,
            drafts: DraftsView {
                used: 3,
                limit: 5,
                next_free: "2026-05-03 12:03".into(),
                full: false,
            },
        }),
        Page::Disconnected {
            message:
                "The TikTok account Mira Demo was disconnected and its access revoked at TikTok."
                    .into(),
            stopped: vec![sample_running()],
        },
        Page::DisconnectConfirm(Box::new(DisconnectView {
            display_name: "Mira Demo".into(),
            csrf: "sample-csrf-token".into(),
            running: vec![sample_running()],
        })),
        Page::SecondDraft(Box::new(SecondDraftView {
            label: "spring-teaser".into(),
            title: "Spring teaser".into(),
            previous: 7,
            previous_state: "In the TikTok inbox since 2026-05-02 12:03 UTC.".into(),
            previous_running: false,
            previous_uncounted: false,
            csrf: "sample-csrf-token".into(),
            drafts: DraftsView {
                used: 3,
                limit: 5,
                next_free: "2026-05-03 12:03".into(),
                full: false,
            },
            used_after: 4,
        })),
        Page::SecondDraft(Box::new(SecondDraftView {
            label: "behind-the-scenes".into(),
            title: "Behind the scenes".into(),
            previous: 8,
            previous_state: "Sending to TikTok now (41% sent).".into(),
            previous_running: true,
            previous_uncounted: false,
            csrf: "sample-csrf-token".into(),
            drafts: DraftsView {
                used: 3,
                limit: 5,
                next_free: "2026-05-03 12:03".into(),
                full: false,
            },
            used_after: 4,
        })),
        Page::Error {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            heading: "Request too large",
            message: "The form sent more data than this service accepts.".into(),
            action: Some(("/operator", "Back to the operator page")),
        },
        Page::UploadRefused {
            status: StatusCode::CONFLICT,
            heading: "Video changed since approval",
            reason: "The file of spring-teaser (spring.mp4) is not the one that was approved: its content differs.".into(),
            remedy: "Review the file again; if it is right, approve it again, then send it.".into(),
            command: "mdz-callback assets approve spring-teaser --by NAME".into(),
        },
    ];
    pages.extend(
        crate::store::ALL_STATES
            .iter()
            .map(|&s| Page::Upload(Box::new(sample_upload(s)))),
    );
    pages
}

fn sample_running() -> RunningItem {
    let s = crate::store::UploadState::Uploading;
    RunningItem {
        id: 8,
        title: "Studio tour".into(),
        state_label: crate::handoff::plain_state(s),
        effect: crate::handoff::standing::when_disconnected(s).into(),
    }
}

/// An upload in state `s`, as its status page would show it.
fn sample_upload(s: crate::store::UploadState) -> UploadView {
    use crate::store::UploadState as S;
    let size = 48_213_377u64;
    let sent = match s {
        S::Queued => 0,
        S::Uploading | S::Interrupted => 20_000_000,
        _ => size,
    };
    let failed = s == S::Failed;
    let done = !s.is_active();
    UploadView {
        id: 7,
        title: "Spring teaser".into(),
        label: "spring-teaser".into(),
        file_name: "spring.mp4".into(),
        size,
        size_text: crate::assets::human_size(size),
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        state: s.as_str(),
        state_label: crate::handoff::plain_state(s),
        running: s.is_active(),
        bytes_sent: sent,
        percent: (sent * 100 / size) as u32,
        sent_text: format!(
            "{} of {}",
            crate::assets::human_size(sent),
            crate::assets::human_size(size)
        ),
        publish_id: if s == S::Queued {
            String::new()
        } else {
            "v_inbox_file~v2.7364829101928374650".into()
        },
        tiktok_status: match s {
            S::Processing | S::Unknown => "PROCESSING_UPLOAD",
            S::InInbox => "SEND_TO_USER_INBOX",
            S::Posted => "PUBLISH_COMPLETE",
            S::Failed => "FAILED",
            _ => "",
        }
        .into(),
        created: "2026-05-02 12:00:04".into(),
        updated: "2026-05-02 12:01:30".into(),
        finished: if done {
            "2026-05-02 12:01:30".into()
        } else {
            String::new()
        },
        error_code: if failed {
            "spam_risk_too_many_pending_share".into()
        } else {
            String::new()
        },
        error_message: match s {
            S::Failed => crate::handoff::sample_failure_message(),
            S::Interrupted => crate::handoff::sample_interrupted_message(),
            S::Unknown => crate::handoff::sample_unknown_message(),
            _ => String::new(),
        },
        log_id: if failed {
            "202605021201300000000000000".into()
        } else {
            String::new()
        },
        csrf: "sample-csrf-token".into(),
        can_retry: matches!(s, S::Failed | S::Interrupted | S::Unknown),
        refreshing: s.is_active(),
        refresh_secs: 3,
        // The page a second press lands on, with its notice.
        again: s == S::Uploading,
        caption: "Spring is here at the studio.\nGlazes by hand, one at a time. #spring #ceramics"
            .into(),
    }
}

/// A file name for each sample, for `sample-pages`: the template's, or for upload pages one
/// per state.
pub fn sample_name(page: &Page) -> String {
    match page {
        Page::Upload(v) => format!("upload_{}.html", v.state),
        Page::SecondDraft(v) if v.previous_running => "second_draft_sending.html".into(),
        Page::BadState {
            signed_in_as: Some(_),
            ..
        } => "bad_state_signed_in.html".into(),
        other => other.template().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(
            Path::new("config.toml"),
            "[site]\nbase_url = \"https://example.com/\"\ncontact = \"info@ecooffice.net\"\nsecurity_txt_expires = 2027-05-01T00:00:00Z\n",
            Vec::new(),
        )
        .unwrap()
    }

    #[test]
    fn every_page_renders_in_the_chrome_with_one_h1() {
        let pages = Pages::new(&config()).unwrap();
        for page in samples() {
            let html = pages.render(&page);
            assert!(html.starts_with("<!DOCTYPE html>"), "{}", page.template());
            assert_eq!(html.matches("<h1").count(), 1, "{}", page.template());
            assert!(html.contains("/privacy/"), "{}", page.template());
            assert!(!html.contains("<script"), "{}", page.template());
            assert!(!html.contains("rel=\"canonical\""), "{}", page.template());
        }
    }

    #[test]
    fn text_from_tiktok_is_escaped() {
        let pages = Pages::new(&config()).unwrap();
        let html = pages.render(&Page::Declined {
            description: "<script>alert(1)</script>".into(),
        });
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
