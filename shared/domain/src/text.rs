//! Bounding text from outside (Concur, an ERP, an operator) before it goes
//! into a message, a log line, the audit or a store: one way to cut, so a
//! cut never splits a character.
//!
//! Limits are in characters where the rule is about what a reader sees, and
//! in bytes where a store counts bytes.

/// The first `max_chars` characters of `text` (all of it when shorter).
pub fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The longest start of `text` of at most `max_bytes` bytes that ends on a
/// character boundary.
pub fn truncate_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut to `max_bytes` bytes with `…` after the cut, so a reader sees
/// that more was said; unchanged when it fits. The `…` is not counted: the
/// limits leave room for it.
pub fn ellipsized_bytes(text: &str, max_bytes: usize) -> String {
    let cut = truncate_bytes(text, max_bytes);
    if cut.len() == text.len() { text.to_owned() } else { format!("{cut}…") }
}

/// `text` in at most `width` characters, the last of them `…` when it was
/// cut (a table column).
pub fn ellipsized_to_width(text: &str, width: usize) -> String {
    if truncate(text, width).len() == text.len() {
        text.to_owned()
    } else {
        format!("{}…", truncate(text, width.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_are_counted_not_bytes() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo", 50), "héllo");
        assert_eq!(truncate("héllo", 0), "");
        assert_eq!(truncate("", 3), "");
    }

    #[test]
    fn a_byte_limit_never_splits_a_character() {
        // `é` is two bytes: a limit inside it keeps the character out.
        assert_eq!(truncate_bytes("hé", 2), "h");
        assert_eq!(truncate_bytes("hé", 3), "hé");
        assert_eq!(truncate_bytes("€€", 4), "€");
        assert_eq!(truncate_bytes("€", 0), "");
    }

    #[test]
    fn the_ellipsis_marks_only_a_cut() {
        assert_eq!(ellipsized_bytes("abc", 3), "abc");
        assert_eq!(ellipsized_bytes("abcd", 3), "abc…");
        assert_eq!(ellipsized_bytes("ab€", 4), "ab…");
        assert_eq!(ellipsized_to_width("abc", 3), "abc");
        assert_eq!(ellipsized_to_width("abcd", 3), "ab…");
        assert_eq!(ellipsized_to_width("äöüß", 3).chars().count(), 3);
    }
}
