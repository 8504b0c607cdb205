//! MiraDigitalZen Publisher: what the generator (`mdz`) and the callback service (`mdz-callback`)
//! share: configuration, the TikTok scope list, the page chrome and located errors. The
//! generator itself lives in [`site`].

pub mod chrome;
pub mod config;
pub mod dates;
pub mod location;
pub mod scopes;
pub mod site;

pub use config::{Config, ConfigError};
pub use location::Location;
