//! Text from an outside service (an ERP's or Concur's error body) on its way
//! into a `Failure` reason, the ledger, the audit trail and back to Concur:
//! short, one line, no control characters and no HTML page.

/// How long a reason from an outside service may be, in characters.
pub const REASON_CHARS: usize = 300;

/// `text` made fit for a reason: HTML reduced to its title (or "an HTML
/// page"), control characters and runs of whitespace made single spaces,
/// cut to [`REASON_CHARS`] with an ellipsis.
pub fn short_reason(text: &str) -> String {
    sanitized(text, REASON_CHARS)
}

/// As [`short_reason`] with another length (identifiers, codes).
pub fn sanitized(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let html;
    let text = if looks_like_html(text) {
        html = match (html_title(text), sanitized(&without_tags(text), 120)) {
            (Some(title), _) => format!("an HTML page titled `{title}`"),
            (None, words) if !words.is_empty() => format!("an HTML page: {words}"),
            (None, _) => "an HTML page".to_owned(),
        };
        html.as_str()
    } else {
        text
    };
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut count = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || is_invisible(c) {
            pending_space = !out.is_empty();
            continue;
        }
        if count + usize::from(pending_space) >= max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Bidirectional overrides and zero-width characters can make a reason
/// display as something it does not say.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn looks_like_html(text: &str) -> bool {
    let head = domain::text::truncate(text, 64).to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<head") || head.contains("<body")
}

/// The text between tags (scripts and styles are rare in error pages and
/// only cost length, which the caller bounds).
fn without_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = sanitized(text.get(open_end..close)?, 80);
    (!title.is_empty() && !title.contains('<')).then_some(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_short_line() {
        assert_eq!(short_reason("  Account\r\n\t'9999' \u{1b}[31mnot found\u{0}  "), "Account '9999' [31mnot found");
        let long = short_reason(&"é".repeat(5000));
        assert_eq!(long.chars().count(), REASON_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(short_reason("a\u{202E}b"), "a b");
        assert_eq!(sanitized("abcdef", 3), "abc…");
        assert_eq!(sanitized("abc", 3), "abc");
    }

    #[test]
    fn html_pages_are_named_not_dumped() {
        let page = format!(
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
            "<div>x</div>".repeat(1000)
        );
        assert_eq!(short_reason(&page), "an HTML page titled `502 Bad Gateway`");
        assert_eq!(
            short_reason("<html><body><h1>Bad gateway</h1>\n<p>nginx</p></body></html>"),
            "an HTML page: Bad gateway nginx"
        );
        assert_eq!(short_reason("<html><body></body></html>"), "an HTML page");
    }
}
