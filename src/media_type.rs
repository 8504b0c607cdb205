//! The `Content-Type` of a file of the built site, by its extension: one table for every place
//! that serves `public/` without nginx (`mdz serve`, `mdz-callback demo`).

/// What the generator writes, and anything else as bytes to download (never sniffed as HTML:
/// every response also says `nosniff`).
pub fn of(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("xml") => "application/xml",
        Some("css") => "text/css",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}
