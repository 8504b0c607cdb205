//! One request of a check and what came back, read in full (up to a bound) so that a page's
//! links and a file's exact bytes can be compared.

use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION};

/// More than any page of the site; a deployment answering with more is not read further.
const MAX_BODY: usize = 2 * 1024 * 1024;

pub(super) struct Answer {
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// "answers 301, a redirect to …" when it is one: the checks want the thing itself.
    pub fn redirect(&self) -> Option<String> {
        (300..400).contains(&self.status).then(|| {
            let to = self
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere");
            format!("answers {}, a redirect to {to}", self.status)
        })
    }
}

/// GET `url`, never following a redirect; the error is the whole chain of causes, which is
/// where reqwest keeps the useful part ("connection refused", "certificate expired").
pub(super) async fn get(client: &reqwest::Client, url: &str) -> Result<Answer, String> {
    send(client.get(url), url).await
}

pub(super) async fn send(request: reqwest::RequestBuilder, url: &str) -> Result<Answer, String> {
    let mut resp = request.send().await.map_err(|e| causes(&e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| causes(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            body.truncate(MAX_BODY);
            break;
        }
    }
    Ok(Answer {
        url: url.to_string(),
        status,
        headers,
        body,
    })
}

/// The causes of `e`, joined ("client error (Connect): invalid peer certificate: UnknownIssuer"):
/// reqwest's own message only repeats the URL the checklist line already names.
pub(super) fn causes(e: &dyn std::error::Error) -> String {
    let Some(first) = e.source() else {
        return e.to_string();
    };
    let mut text = first.to_string();
    let mut source = first.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
