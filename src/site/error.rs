//! What can go wrong in a build, each carrying where (file, line, column from the top of the
//! file) and what to do about it. `mdz check` lists all of them; `mdz build` stops on them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::ConfigError;
use crate::location::Location;

/// `Clone`, because `mdz serve` keeps a page's problems between rebuilds and reports them again.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SiteError {
    #[error("{location}: {message}\n  help: {help}")]
    Source {
        location: Location,
        message: String,
        help: String,
    },
    #[error("{}: {message}\n  help: {help}", path.display())]
    File {
        path: PathBuf,
        message: String,
        help: String,
    },
    /// Shared rather than copied: a configuration error may carry an `io::Error`, which is not
    /// `Clone`.
    #[error("{0}")]
    Config(#[source] Arc<ConfigError>),
    #[error("template {template}: {message}\n  help: {help}")]
    Template {
        template: String,
        message: String,
        help: String,
    },
}

impl From<ConfigError> for SiteError {
    fn from(e: ConfigError) -> Self {
        SiteError::Config(Arc::new(e))
    }
}

impl SiteError {
    pub fn at(location: Location, message: impl Into<String>, help: impl Into<String>) -> Self {
        SiteError::Source {
            location,
            message: message.into(),
            help: help.into(),
        }
    }

    pub fn file(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        SiteError::File {
            path: path.into(),
            message: message.into(),
            help: help.into(),
        }
    }

    /// Sort key so problems come out grouped by file and in reading order.
    fn key(&self) -> (String, usize, usize) {
        match self {
            SiteError::Source { location, .. } => (
                location.path.display().to_string(),
                location.line,
                location.column,
            ),
            SiteError::File { path, .. } => (path.display().to_string(), 0, 0),
            SiteError::Config(_) => (String::new(), 0, 0),
            SiteError::Template { template, .. } => (format!("templates/{template}"), 0, 0),
        }
    }
}

/// Every problem found in one pass, so an editor fixes them all in one go instead of one build
/// per mistake. Made only by collecting, which sorts: whoever lists the problems, they come out
/// in the same order.
#[derive(Debug, Default, Clone)]
pub struct Problems(Vec<SiteError>);

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<SiteError> for Problems {
    fn from_iter<I: IntoIterator<Item = SiteError>>(iter: I) -> Self {
        let mut all: Vec<SiteError> = iter.into_iter().collect();
        // Stable: problems at the same place keep the order they were found in.
        all.sort_by_key(|e| e.key());
        Problems(all)
    }
}

impl From<SiteError> for Problems {
    fn from(e: SiteError) -> Self {
        Problems(vec![e])
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "error: {e}")?;
        }
        let n = self.0.len();
        write!(f, "{n} problem{} found", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Problems {}
