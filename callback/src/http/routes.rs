//! Every route of the service, named once with the methods it allows: the router dispatches on
//! this table, and a request with another method gets a 405 whose `Allow` comes from it.

use hyper::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    SignInStart,
    SignInCallback,
    Operator,
    Disconnect,
    UploadCreate,
    UploadStatus,
    Webhook,
}

/// Where an upload's id stands in a path pattern.
const ID: &str = "{id}";

const TABLE: &[(Route, &str, &[Method])] = &[
    (Route::Health, "/healthz", &[Method::GET]),
    (Route::SignInStart, "/auth/tiktok/start", &[Method::GET]),
    (
        Route::SignInCallback,
        "/auth/tiktok/callback",
        &[Method::GET],
    ),
    (Route::Operator, "/operator", &[Method::GET]),
    (
        Route::Disconnect,
        "/operator/disconnect",
        &[Method::GET, Method::POST],
    ),
    (Route::UploadCreate, "/operator/uploads", &[Method::POST]),
    (
        Route::UploadStatus,
        "/operator/uploads/{id}",
        &[Method::GET],
    ),
    (Route::Webhook, "/tiktok/webhook", &[Method::POST]),
];

impl Route {
    /// The route `path` names, if any.
    pub(super) fn find(path: &str) -> Option<Route> {
        TABLE
            .iter()
            .find(|(_, pattern, _)| matches(pattern, path))
            .map(|(route, _, _)| *route)
    }

    /// The methods this route answers; any other gets a 405.
    pub(super) fn methods(self) -> &'static [Method] {
        self.entry().2
    }

    /// `Allow`'s value for this route.
    pub(super) fn allow(self) -> String {
        self.methods()
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The path of a route without parameters, or with `id` in place of its one.
    pub fn path(self, id: Option<i64>) -> String {
        let pattern = self.entry().1;
        match id {
            Some(id) => pattern.replace(ID, &id.to_string()),
            None => pattern.to_string(),
        }
    }

    fn entry(self) -> &'static (Route, &'static str, &'static [Method]) {
        TABLE
            .iter()
            .find(|(route, _, _)| *route == self)
            .expect("every route is in the table")
    }
}

/// The sign-in and operator routes (and anything under them, also unknown paths) are rate
/// limited per client: they start TikTok calls or guard the operator's session. TikTok's
/// webhook is not: see [`super::webhook`] for why and what bounds it instead.
pub(super) fn rate_limited(path: &str) -> bool {
    path.starts_with("/auth/") || path.starts_with("/operator")
}

fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix(ID) {
        Some(prefix) => path.strip_prefix(prefix).and_then(plain_id).is_some(),
        None => pattern == path,
    }
}

/// The id in `/operator/uploads/{id}`: digits only, no leading zero, no sign.
pub(super) fn upload_id(path: &str) -> Option<i64> {
    let prefix = Route::UploadStatus.entry().1.strip_suffix(ID)?;
    path.strip_prefix(prefix).and_then(plain_id)
}

fn plain_id(digits: &str) -> Option<i64> {
    let plain = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    plain.then(|| digits.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_found_at_its_path_with_its_methods() {
        for (route, _, methods) in TABLE {
            let path = route.path(Some(7));
            assert_eq!(Route::find(&path), Some(*route), "{path}");
            assert!(!methods.is_empty());
        }
        assert_eq!(Route::Disconnect.allow(), "GET, POST");
        assert_eq!(Route::UploadStatus.allow(), "GET");
        assert_eq!(Route::Webhook.allow(), "POST");
        assert!(!rate_limited(&Route::Webhook.path(None)));
        assert_eq!(Route::UploadStatus.path(Some(12)), "/operator/uploads/12");
        for unknown in [
            "/",
            "/operator/",
            "/auth/tiktok",
            "/healthz/",
            "/operator/uploads/x",
            "/tiktok/webhook/",
            "/tiktok/",
        ] {
            assert_eq!(Route::find(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn only_plain_ids_name_an_upload() {
        assert_eq!(upload_id("/operator/uploads/1"), Some(1));
        assert_eq!(upload_id("/operator/uploads/1234567"), Some(1_234_567));
        for bad in [
            "/operator/uploads/",
            "/operator/uploads/0",
            "/operator/uploads/01",
            "/operator/uploads/-1",
            "/operator/uploads/+1",
            "/operator/uploads/1/",
            "/operator/uploads/1x",
            "/operator/uploads/9999999999999999999",
            "/operator/uploadsX/1",
        ] {
            assert_eq!(upload_id(bad), None, "{bad}");
        }
    }
}
