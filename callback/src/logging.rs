//! The log's format: tracing-subscriber's usual line (time, level, target, message,
//! `name=value` fields, colours on a terminal), with every field value and message escaped so
//! that nothing a client or TikTok sends can end the line, start a forged one, or reach a
//! terminal or journald as a control sequence.
//!
//! The escaping sits in the field formatter, not at the call sites: a value that reaches the log
//! through any field, message or error is escaped the same way, including ones added later.

use std::error::Error;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultFields, DefaultVisitor, Format, Writer};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

/// The subscriber's configuration, shared by [`crate::init_logging`] and the tests.
pub fn builder<W>(
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> SubscriberBuilder<EscapedFields, Format, EnvFilter, W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colour codes only for a person at a terminal, not in journald or a log file.
        .with_ansi(ansi)
        .fmt_fields(EscapedFields)
}

/// tracing-subscriber's default field format with every value escaped by [`escape`]. The
/// names, `=` and the colours around them are the formatter's own and stay as they are.
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'w> MakeVisitor<Writer<'w>> for EscapedFields {
    type Visitor = EscapingVisitor<'w>;

    fn make_visitor(&self, target: Writer<'w>) -> Self::Visitor {
        EscapingVisitor(DefaultFields::new().make_visitor(target))
    }
}

/// The default visitor, handed values that are already escaped.
pub struct EscapingVisitor<'w>(DefaultVisitor<'w>);

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            // The default writes a `&str` field with `{:?}`: quoted, and with every control
            // character, quote and backslash already escaped. Escaping that again would double
            // its backslashes.
            self.0.record_str(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields arrive here too, as a Debug that writes the raw Display text.
        self.0.record_debug(field, &Escaped(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.record_debug(field, &format_args!("{}", Chain(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.record_i64(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.record_u64(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.record_i128(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.record_u128(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.record_f64(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.record_bool(field, value);
    }
}

impl VisitOutput<fmt::Result> for EscapingVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.0.finish()
    }
}

impl VisitFmt for EscapingVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        self.0.writer()
    }
}

/// An error and its sources, `outer: inner: …`.
struct Chain<'a>(&'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// A value's `{:?}` text, escaped on the way through ([`escape`]).
struct Escaped<'a>(&'a dyn fmt::Debug);

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(EscapingWriter(f), "{:?}", self.0)
    }
}

/// A value's `{}` text, escaped ([`escape`]): for text from a client or from TikTok that goes to
/// a terminal other than through the log.
pub struct Text<T>(pub T);

impl<T: fmt::Display> fmt::Display for Text<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(EscapingWriter(f), "{}", self.0)
    }
}

struct EscapingWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(s, &mut *self.0)
    }
}

/// Writes `s` with every character that could end a line, start a terminal or journald control
/// sequence, or make the line read differently from what it holds, written as a Rust escape:
/// `\n`, `\r`, `\t`, `\0`, `\\` and `\u{…}` for the rest (other C0 controls, ESC, DEL, the C1
/// controls, the Unicode line and paragraph separators, and the bidirectional overrides that
/// reorder text on screen). The backslash itself is escaped so that a literal `\n` in a value
/// cannot pass for an escaped line break: the escaped text maps back to exactly one original.
pub fn escape(s: &str, out: &mut dyn fmt::Write) -> fmt::Result {
    let mut clean = 0;
    for (i, c) in s.char_indices() {
        if !needs_escape(c) {
            continue;
        }
        out.write_str(&s[clean..i])?;
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\0' => out.write_str("\\0")?,
            '\\' => out.write_str("\\\\")?,
            c => write!(out, "\\u{{{:x}}}", c as u32)?,
        }
        clean = i + c.len_utf8();
    }
    out.write_str(&s[clean..])
}

fn needs_escape(c: char) -> bool {
    match c {
        ' '..='~' => c == '\\',
        '\u{a0}'..='\u{200d}' => false,
        // C0, DEL, C1; then line/paragraph separators, directional marks, embeddings,
        // overrides and isolates.
        _ => {
            c.is_control()
                || matches!(
                    c,
                    '\u{200e}'
                        | '\u{200f}'
                        | '\u{2028}'..='\u{202e}'
                        | '\u{2066}'..='\u{2069}'
                )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        escape(s, &mut out).unwrap();
        out
    }

    #[test]
    fn control_characters_backslashes_and_reordering_marks_are_escaped() {
        assert_eq!(escaped("plain text, ünïcode ✓"), "plain text, ünïcode ✓");
        assert_eq!(escaped("a\nb\rc\td\0e"), "a\\nb\\rc\\td\\0e");
        assert_eq!(escaped("\x1b[31mred\x07"), "\\u{1b}[31mred\\u{7}");
        assert_eq!(
            escaped("del\x7f c1\u{85}\u{9b}"),
            "del\\u{7f} c1\\u{85}\\u{9b}"
        );
        assert_eq!(
            escaped("ls\u{2028}ps\u{2029}rlo\u{202e}lri\u{2067}"),
            "ls\\u{2028}ps\\u{2029}rlo\\u{202e}lri\\u{2067}"
        );
        assert_eq!(escaped("a\\nb"), "a\\\\nb");
        // Nothing escaped that would not need it: quotes, non-breaking space, emoji.
        assert_eq!(escaped("\"'\u{a0}🙂"), "\"'\u{a0}🙂");
        for c in (0u32..0x2100).filter_map(char::from_u32) {
            let out = escaped(&c.to_string());
            assert!(
                !out.chars().any(|o| o.is_control()),
                "U+{:04X} left a control character: {out:?}",
                c as u32
            );
        }
    }

    /// What the subscriber writes, kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer\nfake")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner\r\x1b[2J")]
    struct Inner;

    const FORGED: &str = "x\n2020-01-01T00:00:00.000000Z  INFO mdz_callback::http: security event kind=\"signin\" status=200\r\x1b[31m\x07\0\u{2028}\u{202e}";

    fn log_everything(ansi: bool) -> String {
        let out = Captured::default();
        let subscriber = builder(EnvFilter::new("trace"), out.clone(), ansi).finish();
        tracing::subscriber::with_default(subscriber, || {
            let hostile = FORGED.to_string();
            let error = Outer(Inner);
            tracing::info!(
                description = %hostile,
                debug = ?hostile,
                text = hostile.as_str(),
                error = &error as &(dyn Error + 'static),
                status = 400,
                "message {hostile}"
            );
            let span = tracing::info_span!("span", field = %hostile);
            span.in_scope(|| tracing::warn!("inside"));
        });
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn no_value_or_message_can_start_a_line_or_a_control_sequence() {
        let logs = log_everything(false);
        let lines: Vec<&str> = logs.lines().collect();
        assert_eq!(lines.len(), 2, "{logs}");
        assert!(
            !logs
                .chars()
                .any(|c| c != '\n' && c != '\\' && needs_escape(c)),
            "{logs:?}"
        );
        assert!(!logs.contains("\n2020-01-01"), "{logs}");
        let first = lines[0];
        assert!(first.contains(" INFO "), "{first}");
        assert!(
            first.contains(
                "message x\\n2020-01-01T00:00:00.000000Z  INFO mdz_callback::http: security event kind=\"signin\" status=200\\r\\u{1b}[31m\\u{7}\\0\\u{2028}\\u{202e}"
            ),
            "{first}"
        );
        assert!(first.contains("description=x\\n2020"), "{first}");
        assert!(first.contains("text=\"x\\n2020"), "{first}");
        assert!(first.contains("debug=\"x\\\\n2020"), "{first}");
        assert!(
            first.contains("error=outer\\nfake: inner\\r\\u{1b}[2J"),
            "{first}"
        );
        assert!(first.ends_with("status=400"), "{first}");
        // Span fields go through the same formatter.
        assert!(lines[1].contains("span{field=x\\n2020"), "{}", lines[1]);
    }

    #[test]
    fn on_a_terminal_the_colours_stay_and_only_they_are_escape_sequences() {
        let logs = log_everything(true);
        assert_eq!(logs.lines().count(), 2, "{logs}");
        // The formatter's own colours: italic field names, a coloured level.
        assert!(logs.contains("\x1b[3mdescription\x1b[0m"), "{logs:?}");
        assert!(logs.contains("\x1b[32m INFO\x1b[0m"), "{logs:?}");
        // Every ESC left is one of those: the forged `ESC[31m` arrives as text.
        assert!(!logs.contains("\x1b[31m"), "{logs:?}");
        assert!(logs.contains("\\u{1b}[31m"), "{logs:?}");
        assert!(!logs.contains("\x1b[2J"), "{logs:?}");
        assert!(
            !logs
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\x1b'),
            "{logs:?}"
        );
    }
}
