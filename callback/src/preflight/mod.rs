//! `mdz-callback preflight`: a deployment checked from the outside, the way TikTok's reviewer
//! (the pages, their links, the privacy policy's scopes) and TikTok's servers (TLS, the
//! verification file, the redirect URI, the webhook) will meet it, before the app is submitted.
//! Every check becomes one line of a checklist that says what to do when it fails; the command
//! exits non-zero when any fails.
//!
//! Requests go to the public addresses only (`site.base_url`, `callback.public_url`), never to
//! `callback.listen`, so whatever stands in between (nginx, a firewall, DNS) is checked too.
//! Redirects are never followed: TikTok's URL-prefix verification does not follow them and the
//! review wants the pages at the addresses it is given (docs/tiktok-contract.md §14).

mod answer;
mod service;
mod site;
mod tls;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mdz::Config;
use url::Url;

pub use service::redirect_uri_problems;
pub use tls::certificate_outcome;

/// What the command line may change for one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// PEM certificates of authorities to trust besides the public ones (a private or staging
    /// CA).
    pub ca_file: Option<PathBuf>,
    /// Checked instead of `site.base_url`.
    pub base_url: Option<String>,
    /// Checked instead of `callback.public_url`.
    pub public_url: Option<String>,
    /// How long one connection or request may take.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ca_file: None,
            base_url: None,
            public_url: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// What was seen, so the operator can tell it was really looked at.
    Pass(String),
    Fail {
        problem: String,
        what_to_do: String,
    },
    /// Not applicable to this deployment, and why; not a failure.
    Skip(String),
}

impl Check {
    fn pass(name: &'static str, seen: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Pass(seen.into()),
        }
    }

    fn fail(
        name: &'static str,
        problem: impl Into<String>,
        what_to_do: impl Into<String>,
    ) -> Check {
        Check {
            name,
            outcome: Outcome::Fail {
                problem: problem.into(),
                what_to_do: what_to_do.into(),
            },
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Fail { .. })
    }
}

/// The checklist, in the order the checks ran.
#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.checks.iter().filter(|c| c.failed()).count()
    }

    /// The first check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Ok when nothing failed; otherwise the error the command exits with.
    pub fn verdict(&self) -> Result<(), PreflightError> {
        match self.failures() {
            0 => Ok(()),
            failed => Err(PreflightError::Failed {
                failed,
                total: self.checks.len(),
            }),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.outcome {
                Outcome::Pass(seen) => writeln!(f, "PASS  {}: {seen}", c.name)?,
                Outcome::Fail {
                    problem,
                    what_to_do,
                } => {
                    writeln!(f, "FAIL  {}: {problem}", c.name)?;
                    writeln!(f, "      what to do: {what_to_do}")?;
                }
                Outcome::Skip(why) => writeln!(f, "SKIP  {}: {why}", c.name)?,
            }
        }
        let passed = self
            .checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Pass(_)))
            .count();
        let skipped = self.checks.len() - passed - self.failures();
        writeln!(
            f,
            "{} checks: {passed} passed, {} failed, {skipped} skipped",
            self.checks.len(),
            self.failures()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(transparent)]
    Config(#[from] mdz::ConfigError),
    #[error("--ca-file {}: {message}\n  help: {help}", path.display())]
    CaFile {
        path: PathBuf,
        message: String,
        help: String,
    },
    #[error("{what} `{value}` is not an absolute URL: {source}\n  help: {help}")]
    Url {
        what: &'static str,
        value: String,
        #[source]
        source: url::ParseError,
        help: &'static str,
    },
    #[error("{what} `{value}` is not an http(s) URL with a host\n  help: {help}")]
    NotHttp {
        what: &'static str,
        value: String,
        help: &'static str,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] rustls::Error),
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error(
        "{failed} of {total} preflight checks failed\n  help: do what each FAIL line above says, then run preflight again"
    )]
    Failed { failed: usize, total: usize },
}

/// `mdz-callback preflight --config PATH`: the settings from the file and `MDZ_*`, no secrets.
pub async fn command(config_path: &Path, options: &Options) -> Result<Report, PreflightError> {
    let config = Config::load(config_path)?;
    run(&config, options).await
}

/// Runs every check against the deployment `config` (with `options`' overrides) describes.
pub async fn run(config: &Config, options: &Options) -> Result<Report, PreflightError> {
    let mut config = config.clone();
    if let Some(base) = &options.base_url {
        config.site.base_url = base.clone();
    }
    if !config.site.base_url.ends_with('/') {
        config.site.base_url.push('/');
    }
    if let Some(public) = &options.public_url {
        config.callback.public_url = public.trim_end_matches('/').to_string();
    }
    let base = parse(
        "the site's address (site.base_url or --base-url)",
        &config.site.base_url,
        "write the https address the site is published at, e.g. https://example.com/",
    )?;
    let public = parse(
        "the callback's address (callback.public_url or --public-url)",
        &config.callback.public_url,
        "write the https origin the callback is reached at, e.g. https://example.com",
    )?;
    let tls_config = tls::client_config(options.ca_file.as_deref())?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((*tls_config).clone())
        .redirect(reqwest::redirect::Policy::none())
        // From this machine straight to the deployment, as the TLS check connects: a proxy in
        // between could answer for it.
        .no_proxy()
        .timeout(options.timeout)
        .user_agent(concat!(
            "mdz-callback-preflight/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(PreflightError::Client)?;

    let mut checks = vec![tls::check("TLS", &base, tls_config.clone(), options.timeout).await];
    if public.host() != base.host()
        || public.port_or_known_default() != base.port_or_known_default()
    {
        checks.push(tls::check("TLS of the callback", &public, tls_config, options.timeout).await);
    }
    checks.extend(site::checks(&client, &base, &config).await);
    checks.extend(service::checks(&client, &config).await);
    Ok(Report { checks })
}

/// An absolute http(s) URL; anything else (`mailto:`, a relative path) has no pages to check.
fn parse(what: &'static str, value: &str, help: &'static str) -> Result<Url, PreflightError> {
    let url = Url::parse(value).map_err(|source| PreflightError::Url {
        what,
        value: value.to_string(),
        source,
        help,
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(PreflightError::NotHttp {
            what,
            value: value.to_string(),
            help,
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checklist_says_what_to_do_and_counts_the_failures() {
        let report = Report {
            checks: vec![
                Check::pass("home page", "200 at https://example.com/"),
                Check::fail("webhook", "answers 404", "proxy /tiktok/webhook"),
                Check {
                    name: "verification file",
                    outcome: Outcome::Skip("not configured".into()),
                },
            ],
        };
        let text = report.to_string();
        assert_eq!(
            text,
            "PASS  home page: 200 at https://example.com/\n\
             FAIL  webhook: answers 404\n      what to do: proxy /tiktok/webhook\n\
             SKIP  verification file: not configured\n\
             3 checks: 1 passed, 1 failed, 1 skipped\n"
        );
        let err = report.verdict().unwrap_err().to_string();
        assert!(err.starts_with("1 of 3 preflight checks failed"), "{err}");
        let fine = Report {
            checks: vec![report.checks[0].clone(), report.checks[2].clone()],
        };
        assert!(fine.verdict().is_ok());
    }
}
