//! `config.toml`: the site, TikTok and callback settings (never secrets). Both binaries load it
//! through [`Config::load`], so a key means the same thing everywhere. Unknown keys are errors
//! (a typo must not silently fall back to a default), and every setting can be overridden by an
//! environment variable `MDZ_<SECTION>_<KEY>`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::value::Datetime;

use crate::location::{Location, line_col};
use crate::scopes;

pub const DEFAULT_AUTH_URL: &str = "https://www.tiktok.com/v2/auth/authorize/";
pub const DEFAULT_API_BASE: &str = "https://open.tiktokapis.com";
/// TikTok's nominal chunk for multi-chunk uploads; see `docs/tiktok-contract.md` §8.
pub const DEFAULT_CHUNK_SIZE: u64 = 10_000_000;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub site: SiteConfig,
    #[serde(default)]
    pub tiktok: TikTokConfig,
    #[serde(default)]
    pub callback: CallbackConfig,
    /// Directory of the config file: relative paths in it resolve from here, not from wherever
    /// the binary happens to be started.
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Absolute URL the site is published at, always ending in `/`.
    pub base_url: String,
    pub contact: String,
    #[serde(default = "default_title")]
    pub title: String,
    #[serde(default = "default_language")]
    pub language: String,
    /// RFC 9116 `Expires` of `/.well-known/security.txt`. Configured, never the build clock, so
    /// builds stay reproducible.
    pub security_txt_expires: Datetime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PkceChallenge {
    /// Lowercase hex SHA-256, as TikTok's desktop docs and SDKs do.
    Hex,
    /// RFC 7636 base64url without padding.
    Base64url,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TikTokConfig {
    pub auth_url: String,
    pub api_base: String,
    pub scopes: Vec<String>,
    pub verification_file: Option<String>,
    pub verification_content: Option<String>,
    pub pkce_challenge: PkceChallenge,
    pub chunk_size: u64,
    /// Drafts TikTok lets one account hold pending within any 24 hours
    /// (docs/tiktok-contract.md §11); the service refuses a send at it, before calling TikTok.
    pub pending_share_limit: u32,
    /// Continue an upload cut off by a restart or a network failure from the first chunk
    /// TikTok has not confirmed, while its upload URL lives, instead of a new init (which
    /// makes a new draft). TikTok does not document resuming (docs/tiktok-contract.md
    /// §16.15), so it can be switched off; off, a cut-off upload needs a new send.
    pub resume_uploads: bool,
}

impl Default for TikTokConfig {
    fn default() -> Self {
        Self {
            auth_url: DEFAULT_AUTH_URL.into(),
            api_base: DEFAULT_API_BASE.into(),
            scopes: scopes::REQUIRED.iter().map(|s| s.to_string()).collect(),
            verification_file: None,
            verification_content: None,
            pkce_challenge: PkceChallenge::Hex,
            chunk_size: DEFAULT_CHUNK_SIZE,
            pending_share_limit: 5,
            resume_uploads: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbackConfig {
    pub listen: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub assets: PathBuf,
    pub expected_open_id: Option<String>,
    pub retention_days: u32,
    pub rate_limit: u32,
    /// Seconds a webhook's signed timestamp may differ from this clock (docs/tiktok-contract.md
    /// §13): wide enough for TikTok's clock and a slow delivery, narrow enough that a captured
    /// delivery cannot be replayed days later.
    pub webhook_tolerance: u64,
    /// Header a reverse proxy on loopback puts the client's address in (e.g. `X-Real-IP`).
    /// Unset, the socket peer is the client: trusting a header nobody strips would let any
    /// client pick the address its rate limit and security events are filed under.
    pub real_ip_header: Option<String>,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8787".into(),
            public_url: "http://127.0.0.1:8787".into(),
            data_dir: PathBuf::from("data"),
            assets: PathBuf::from("assets.toml"),
            expected_open_id: None,
            retention_days: 30,
            rate_limit: 60,
            webhook_tolerance: 300,
            real_ip_header: None,
        }
    }
}

fn default_title() -> String {
    "MiraDigitalZen Publisher".into()
}
fn default_language() -> String {
    "en".into()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration: {source}\n  help: run from the folder that holds config.toml, or name it (mdz: --root DIR; mdz-callback: --config PATH)", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: {message}\n  help: {help}")]
    Invalid {
        location: Location,
        message: String,
        help: String,
    },
    #[error("environment variable {var}: {message}\n  help: {help}")]
    Env {
        var: String,
        message: String,
        help: String,
    },
}

/// How an environment override is read: the variable is text, the setting may not be.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Integer,
    List,
    Datetime,
    Bool,
}

const KEYS: &[(&str, &str, Kind)] = &[
    ("site", "base_url", Kind::Text),
    ("site", "contact", Kind::Text),
    ("site", "title", Kind::Text),
    ("site", "language", Kind::Text),
    ("site", "security_txt_expires", Kind::Datetime),
    ("tiktok", "auth_url", Kind::Text),
    ("tiktok", "api_base", Kind::Text),
    ("tiktok", "scopes", Kind::List),
    ("tiktok", "verification_file", Kind::Text),
    ("tiktok", "verification_content", Kind::Text),
    ("tiktok", "pkce_challenge", Kind::Text),
    ("tiktok", "chunk_size", Kind::Integer),
    ("tiktok", "pending_share_limit", Kind::Integer),
    ("tiktok", "resume_uploads", Kind::Bool),
    ("callback", "listen", Kind::Text),
    ("callback", "public_url", Kind::Text),
    ("callback", "data_dir", Kind::Text),
    ("callback", "assets", Kind::Text),
    ("callback", "expected_open_id", Kind::Text),
    ("callback", "retention_days", Kind::Integer),
    ("callback", "rate_limit", Kind::Integer),
    ("callback", "webhook_tolerance", Kind::Integer),
    ("callback", "real_ip_header", Kind::Text),
];

impl Config {
    /// Reads `path` and applies `MDZ_*` overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text, std::env::vars())
    }

    /// Parses `text` (the contents of `path`) with the given environment. Separate from
    /// [`Config::load`] so tests need not touch the process environment.
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        // First pass straight from the text, so a mistake in the file is reported at its line.
        let from_file: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            ConfigError::Invalid {
                location: Location::new(path, line, column),
                message: e.message().trim().to_string(),
                help: "fix this setting; README.md lists every key of config.toml".into(),
            }
        })?;
        let mut table: toml::Table = text.parse().expect("parsed above");
        let mut overridden = Vec::new();
        for (var, value) in env {
            if let Some((section, key, kind)) = override_target(&var)? {
                let parsed = env_value(&var, &value, kind)?;
                table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(Default::default()))
                    .as_table_mut()
                    .ok_or_else(|| ConfigError::Env {
                        var: var.clone(),
                        message: format!("[{section}] in the config file is not a table"),
                        help: "fix config.toml".into(),
                    })?
                    .insert(key.to_string(), parsed);
                overridden.push(var);
            }
        }
        let mut config = if overridden.is_empty() {
            from_file
        } else {
            toml::Table::try_into::<Config>(table).map_err(|e| ConfigError::Env {
                var: overridden.join(", "),
                message: e.message().trim().to_string(),
                help: "correct or unset the variable".into(),
            })?
        };
        config.dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        config.validate(path, text)?;
        Ok(config)
    }

    fn validate(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let invalid = |section: &str, key: &str, message: String, help: &str| {
            let (line, column) = locate_key(text, section, key);
            ConfigError::Invalid {
                location: Location::new(path, line, column),
                message: format!("{section}.{key}: {message}"),
                help: help.into(),
            }
        };
        if !is_absolute_http(&self.site.base_url) {
            return Err(invalid(
                "site",
                "base_url",
                format!("`{}` is not an absolute http(s) URL", self.site.base_url),
                "write the address the site is published at, e.g. https://example.com/",
            ));
        }
        if !self.site.base_url.ends_with('/') {
            self.site.base_url.push('/');
        }
        if !self.site.contact.contains('@') {
            return Err(invalid(
                "site",
                "contact",
                format!("`{}` is not an e-mail address", self.site.contact),
                "write the address visitors write to, e.g. info@example.com",
            ));
        }
        let problems = scopes::problems(&self.tiktok.scopes);
        if !problems.is_empty() {
            return Err(invalid(
                "tiktok",
                "scopes",
                problems.join("; "),
                &format!("set scopes = {:?}", scopes::REQUIRED),
            ));
        }
        for (key, url) in [
            ("auth_url", &self.tiktok.auth_url),
            ("api_base", &self.tiktok.api_base),
        ] {
            if !is_absolute_http(url) {
                return Err(invalid(
                    "tiktok",
                    key,
                    format!("`{url}` is not an absolute http(s) URL"),
                    "leave it unset to use TikTok's own address",
                ));
            }
        }
        match (
            &self.tiktok.verification_file,
            &self.tiktok.verification_content,
        ) {
            (Some(f), Some(_)) => {
                if f.is_empty()
                    || f.contains(['/', '\\'])
                    || f.starts_with('.')
                    || !f.ends_with(".txt")
                {
                    return Err(invalid(
                        "tiktok",
                        "verification_file",
                        format!("`{f}` is not a plain file name ending in .txt"),
                        "use the file name TikTok gives, e.g. tiktokAbC123.txt",
                    ));
                }
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid(
                    "tiktok",
                    "verification_file",
                    "verification_file and verification_content go together".into(),
                    "set both (name and exact text TikTok gives) or neither",
                ));
            }
        }
        if self.tiktok.chunk_size < 5 * 1024 * 1024 || self.tiktok.chunk_size > 64_000_000 {
            return Err(invalid(
                "tiktok",
                "chunk_size",
                format!(
                    "{} bytes is outside TikTok's 5 MiB..64 MB chunk rule",
                    self.tiktok.chunk_size
                ),
                "leave it unset (10000000) unless TikTok asks otherwise",
            ));
        }
        if self.tiktok.pending_share_limit == 0 {
            return Err(invalid(
                "tiktok",
                "pending_share_limit",
                "0 drafts a day would refuse every send".into(),
                "leave it unset (5, TikTok's limit) unless TikTok tells you another",
            ));
        }
        if self.callback.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "callback",
                "listen",
                format!("`{}` is not a socket address", self.callback.listen),
                "write host:port, e.g. 127.0.0.1:8787",
            ));
        }
        let public = self.callback.public_url.trim_end_matches('/').to_string();
        if !(public.starts_with("https://") || is_loopback_http(&public)) {
            return Err(invalid(
                "callback",
                "public_url",
                format!("`{public}` must be https (plain http only on 127.0.0.1 or localhost)"),
                "write the https origin the callback is reached at, e.g. https://example.com",
            ));
        }
        self.callback.public_url = public;
        if self.callback.rate_limit == 0 {
            return Err(invalid(
                "callback",
                "rate_limit",
                "0 requests per minute would refuse everyone".into(),
                "leave it unset for 60",
            ));
        }
        if self.callback.webhook_tolerance == 0 {
            return Err(invalid(
                "callback",
                "webhook_tolerance",
                "0 seconds would refuse every webhook: TikTok's clock and its delivery are never exact".into(),
                "leave it unset for 300",
            ));
        }
        Ok(())
    }

    /// A path from the config file, resolved relative to the file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// Whether deploy/nginx.conf answers `name` as TikTok's verification file: its location is
/// `~ ^/tiktok[A-Za-z0-9]+\.txt$` in both server blocks, and only that location is also served
/// over plain http and as `text/plain` whatever the extension's MIME type. Any other name is
/// answered by `location /` (https) or the redirect (http), which URL-prefix verification does not
/// follow (docs/tiktok-contract.md §14).
pub fn nginx_serves_verification_file(name: &str) -> bool {
    name.strip_prefix("tiktok")
        .and_then(|rest| rest.strip_suffix(".txt"))
        .is_some_and(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_absolute_http(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split('/').next().unwrap_or("");
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host_port,
    };
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

/// `MDZ_SITE_BASE_URL` -> (`site`, `base_url`). Variables of other sections (the secret
/// `MDZ_TOKEN_KEY`, say) are not settings and are left alone.
fn override_target(var: &str) -> Result<Option<(&'static str, &'static str, Kind)>, ConfigError> {
    let Some(rest) = var.strip_prefix("MDZ_") else {
        return Ok(None);
    };
    for section in ["SITE", "TIKTOK", "CALLBACK"] {
        if let Some(key) = rest.strip_prefix(section).and_then(|k| k.strip_prefix('_')) {
            let key = key.to_ascii_lowercase();
            let section = section.to_ascii_lowercase();
            return match KEYS.iter().find(|(s, k, _)| *s == section && *k == key) {
                Some(&(s, k, kind)) => Ok(Some((s, k, kind))),
                None => Err(ConfigError::Env {
                    var: var.into(),
                    message: format!("there is no setting {section}.{key}"),
                    help: "unset it, or fix its name (README.md lists every setting)".into(),
                }),
            };
        }
    }
    Ok(None)
}

fn env_value(var: &str, value: &str, kind: Kind) -> Result<toml::Value, ConfigError> {
    let bad = |what: &str| ConfigError::Env {
        var: var.into(),
        message: format!("`{value}` is not {what}"),
        help: format!("set {var} to {what}, or unset it"),
    };
    Ok(match kind {
        Kind::Text => toml::Value::String(value.into()),
        Kind::Integer => {
            toml::Value::Integer(value.trim().parse().map_err(|_| bad("a whole number"))?)
        }
        Kind::List => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.into()))
                .collect(),
        ),
        Kind::Datetime => toml::Value::Datetime(
            value
                .trim()
                .parse()
                .map_err(|_| bad("a date-time such as 2027-05-01T00:00:00Z"))?,
        ),
        Kind::Bool => toml::Value::Boolean(match value.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("true or false")),
        }),
    })
}

/// Where `key` of `[section]` is written, so a value that parses but makes no sense is still
/// reported at its line. Falls back to the top of the file when the key is absent (a default or
/// an environment override was used).
pub(crate) fn locate_key(text: &str, section: &str, key: &str) -> (usize, usize) {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(name) = t.strip_prefix('[') {
            current = name.split(']').next().unwrap_or("").trim().to_string();
            continue;
        }
        if current == section {
            if let Some(after) = t.strip_prefix(key) {
                if after.trim_start().starts_with('=') {
                    return (i + 1, line.len() - t.len() + 1);
                }
            }
        }
    }
    (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[site]
base_url = "https://example.com"
contact = "info@ecooffice.net"
security_txt_expires = 2027-05-01T00:00:00Z

[tiktok]
scopes = ["user.info.basic", "video.upload"]
"#;

    #[test]
    fn nginx_serves_only_tiktok_letters_and_digits_txt_as_the_verification_file() {
        for name in ["tiktokAbC123.txt", "tiktok7.txt"] {
            assert!(nginx_serves_verification_file(name), "{name}");
        }
        for name in [
            "tiktok.txt",
            "tiktok-abc.txt",
            "tiktok_abc.txt",
            "TikTokAbc.txt",
            "tiktokAbc.TXT",
            "tiktokAbc.txt.bak",
            "xtiktokAbc.txt",
            "verify.txt",
        ] {
            assert!(!nginx_serves_verification_file(name), "{name}");
        }
    }

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::parse(
            Path::new("config.toml"),
            text,
            env.iter().map(|(a, b)| (a.to_string(), b.to_string())),
        )
    }

    #[test]
    fn good_config_gets_defaults_and_a_trailing_slash() {
        let c = parse(GOOD, &[]).unwrap();
        assert_eq!(c.site.base_url, "https://example.com/");
        assert_eq!(c.callback.rate_limit, 60);
        assert_eq!(c.callback.webhook_tolerance, 300);
        assert_eq!(c.tiktok.pkce_challenge, PkceChallenge::Hex);
        // No trailing slash: the service appends its routes to it.
        assert_eq!(c.callback.public_url, "http://127.0.0.1:8787");
    }

    #[test]
    fn unknown_key_is_an_error_at_its_line() {
        let text = GOOD.replace("[tiktok]\n", "[tiktok]\nscopse = []\n");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.starts_with("config.toml:8:"), "{e}");
        assert!(e.contains("scopse"), "{e}");
    }

    #[test]
    fn video_publish_is_refused_at_the_scopes_line() {
        let text = GOOD.replace("\"video.upload\"]", "\"video.upload\", \"video.publish\"]");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.starts_with("config.toml:8:1:"), "{e}");
        assert!(e.contains("video.publish"), "{e}");
    }

    #[test]
    fn environment_overrides_win_and_are_typed() {
        let c = parse(
            GOOD,
            &[
                ("MDZ_TIKTOK_API_BASE", "http://127.0.0.1:9999"),
                ("MDZ_CALLBACK_RATE_LIMIT", "5000"),
                ("MDZ_CALLBACK_WEBHOOK_TOLERANCE", "60"),
                ("MDZ_CALLBACK_LISTEN", "127.0.0.1:0"),
                ("MDZ_TOKEN_KEY", "not a setting, a secret"),
            ],
        )
        .unwrap();
        assert_eq!(c.tiktok.api_base, "http://127.0.0.1:9999");
        assert_eq!(c.callback.rate_limit, 5000);
        assert_eq!(c.callback.webhook_tolerance, 60);
        assert_eq!(c.callback.listen, "127.0.0.1:0");
    }

    #[test]
    fn bad_overrides_name_the_variable() {
        let e = parse(GOOD, &[("MDZ_CALLBACK_RATE_LIMIT", "lots")]).unwrap_err();
        assert!(e.to_string().contains("MDZ_CALLBACK_RATE_LIMIT"), "{e}");
        let e = parse(GOOD, &[("MDZ_CALLBACK_WEBHOOK_TOLERANCE", "0")]).unwrap_err();
        assert!(e.to_string().contains("webhook_tolerance"), "{e}");
        let e = parse(GOOD, &[("MDZ_CALLBACK_NOPE", "1")]).unwrap_err();
        assert!(e.to_string().contains("no setting callback.nope"), "{e}");
    }

    #[test]
    fn resuming_uploads_is_on_unless_switched_off_in_the_file_or_the_environment() {
        assert!(parse(GOOD, &[]).unwrap().tiktok.resume_uploads);
        let off = GOOD.replace("[tiktok]\n", "[tiktok]\nresume_uploads = false\n");
        assert!(!parse(&off, &[]).unwrap().tiktok.resume_uploads);
        let env = [("MDZ_TIKTOK_RESUME_UPLOADS", "false")];
        assert!(!parse(GOOD, &env).unwrap().tiktok.resume_uploads);
        let e = parse(GOOD, &[("MDZ_TIKTOK_RESUME_UPLOADS", "no")]).unwrap_err();
        assert!(e.to_string().contains("true or false"), "{e}");
        assert!(e.to_string().contains("MDZ_TIKTOK_RESUME_UPLOADS"), "{e}");
        let bad = GOOD.replace("[tiktok]\n", "[tiktok]\nresume_uploads = 1\n");
        let e = parse(&bad, &[]).unwrap_err().to_string();
        assert!(e.contains("config.toml:8"), "{e}");
    }

    #[test]
    fn public_url_must_be_https_unless_loopback() {
        let text = format!("{GOOD}\n[callback]\npublic_url = \"http://example.com\"\n");
        let e = parse(&text, &[]).unwrap_err().to_string();
        assert!(e.contains("public_url"), "{e}");
        let text = format!("{GOOD}\n[callback]\npublic_url = \"http://localhost:8787/\"\n");
        assert_eq!(
            parse(&text, &[]).unwrap().callback.public_url,
            "http://localhost:8787"
        );
    }
}
