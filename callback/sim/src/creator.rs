//! What the creator does with app drafts in the TikTok app, on the simulator's settings page
//! (`/sim/app`): how many drafts from apps are pending against TikTok's limit (contract §11: at
//! most 5 in any 24 hours, then `spam_risk_too_many_pending_share`), and a control "the creator
//! posted or discarded the drafts" that frees those slots, so a test or a `demo` user can see
//! both sides of the limit. Posting also tells the app with `post.publish.complete` for each
//! draft, when a webhook URL is configured (§13, event names as observed, §16.14); TikTok sends
//! nothing for a discarded draft, so neither does the simulator.

use hyper::StatusCode;
use serde_json::json;

use super::state::{PENDING_LIMIT, State};
use super::wire::{self, Form, Resp, esc};
use super::{Shared, StatusScript};

pub(crate) const DRAFTS: &str = "/sim/app/drafts";

/// What the creator did with the drafts waiting in the inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreatorAction {
    Posted,
    Discarded,
}

impl CreatorAction {
    fn parse(s: &str) -> Option<CreatorAction> {
        match s {
            "posted" => Some(CreatorAction::Posted),
            "discarded" => Some(CreatorAction::Discarded),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CreatorAction::Posted => "posted",
            CreatorAction::Discarded => "discarded",
        }
    }
}

/// What acting on the drafts did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acted {
    /// Pending slots freed.
    pub freed: usize,
    /// Drafts in the inbox acted on; for a post, each got a `post.publish.complete` if a
    /// webhook URL is configured.
    pub drafts: Vec<String>,
}

/// The creator posts or discards every draft waiting in `open_id`'s inbox: the pending count
/// drops to zero and, for posts, the app is told per draft and status polls answer
/// `PUBLISH_COMPLETE`.
pub(crate) fn act(shared: &Shared, open_id: &str, action: CreatorAction) -> Acted {
    let (acted, events) = {
        let mut st = shared.lock();
        let freed = st.pending_count(open_id);
        st.pending.remove(open_id);
        let default = st.default_script.clone();
        let mut drafts = Vec::new();
        for u in st.uploads.iter_mut().filter(|u| u.open_id == open_id) {
            let reaches_inbox = matches!(
                u.script.as_ref().unwrap_or(&default),
                StatusScript::InboxAfter(_) | StatusScript::PublishCompleteAfter(_)
            );
            if u.sha256.is_none() || u.creator_acted || !reaches_inbox {
                continue;
            }
            u.creator_acted = true;
            if action == CreatorAction::Posted {
                u.script = Some(StatusScript::PublishCompleteAfter(0));
            }
            drafts.push(u.publish_id.clone());
        }
        let events = if action == CreatorAction::Posted {
            drafts.clone()
        } else {
            Vec::new()
        };
        (Acted { freed, drafts }, events)
    };
    for publish_id in events {
        shared.webhooks.emit(
            "post.publish.complete",
            open_id,
            &json!({"publish_id": publish_id, "publish_type": "INBOX_SHARE"}),
        );
    }
    acted
}

/// `POST /sim/app/drafts`, from the settings page's form (checked by the caller's token).
pub(crate) fn handle(shared: &Shared, form: &Form, open_id: &str) -> Resp {
    let Some(action) = form.get("what").and_then(CreatorAction::parse) else {
        return wire::text(
            StatusCode::BAD_REQUEST,
            "what must be posted or discarded\n",
        );
    };
    let acted = act(shared, open_id, action);
    wire::redirect(&format!(
        "{}?drafts={}&freed={}&n={}",
        super::account::PAGE,
        action.as_str(),
        acted.freed,
        acted.drafts.len()
    ))
}

/// The settings page's section on drafts from apps. `query` is the page's: after the control
/// was used it says what happened.
pub(crate) fn section(st: &mut State, open_id: &str, token: &str, query: &Form) -> String {
    let pending = st.pending_count(open_id);
    let mut out = String::from("<h2>Drafts from apps</h2>");
    if let Some(action) = query.get("drafts").and_then(CreatorAction::parse) {
        let n = |k: &str| {
            query
                .get(k)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        let told = match action {
            CreatorAction::Posted => {
                " TikTok tells the app about each posted draft with <code>post.publish.complete</code> (if a webhook URL is configured)."
            }
            CreatorAction::Discarded => " TikTok does not tell the app about discarded drafts.",
        };
        out.push_str(&format!(
            "<p role=\"status\"><strong>You {} {} draft{} from the inbox; {} pending slot{} freed.</strong>{told}</p>",
            action.as_str(),
            n("n"),
            if n("n") == 1 { "" } else { "s" },
            n("freed"),
            if n("freed") == 1 { " was" } else { "s were" },
        ));
    }
    out.push_str(&format!(
        "<p>Pending drafts from apps in the last 24 hours: <strong id=\"pending\">{pending} of {PENDING_LIMIT}</strong>. \
At {PENDING_LIMIT}, TikTok refuses new drafts from apps (<code>spam_risk_too_many_pending_share</code>) until you post or discard them.</p>"
    ));
    out.push_str(&format!(
        "<form method=\"post\" action=\"{DRAFTS}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
<p class=\"actions\"><button type=\"submit\" name=\"what\" value=\"posted\">I posted the drafts</button>\
<button type=\"submit\" name=\"what\" value=\"discarded\">I discarded the drafts</button></p></form>",
        esc(token)
    ));
    out
}
