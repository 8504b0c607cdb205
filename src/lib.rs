//! MiraDigitalZen Publisher: what the generator (`mdz`) and the callback service (`mdz-callback`)
//! share: configuration, the TikTok scope list, dates, the page chrome and located errors. The
//! generator itself lives in `site`, behind the default feature `site`: the service depends on
//! this crate with `default-features = false` and so builds none of the generator's
//! dependencies.

pub mod chrome;
pub mod config;
pub mod dates;
pub mod escape;
pub mod location;
pub mod media_type;
pub mod ports;
pub mod scopes;
#[cfg(feature = "site")]
pub mod site;

pub use config::{Config, ConfigError};
pub use location::Location;
