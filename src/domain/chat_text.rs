//! User text (PR titles, reasons, arguments) shown in chat is never echoed raw: Slack's
//! mrkdwn controls and Discord's mentions are neutralised here.

/// Escapes text for Slack mrkdwn: `&`, `<`, `>` as Slack requires, which also defuses
/// `<!channel>`, `<@U…>` and `<url|label>`.
pub fn slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for Discord: mentions (`@everyone`, `@here`, `<@…>`, `<@&…>`, `<#…>`) get a
/// zero-width space after the `@`/`<`, and markdown controls are backslash-escaped. Messages
/// are also sent with `allowed_mentions` empty, so this is the second line of defence.
pub fn discord(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '@' => out.push_str("@\u{200b}"),
            '<' => out.push_str("<\u{200b}"),
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for a GitHub comment: `@login` and `@org/team` must not notify anyone.
pub fn github(text: &str) -> String {
    text.replace('@', "@\u{200b}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn slack_controls_are_escaped() {
        assert_eq!(
            super::slack("Fix <!channel> & <@U123|boss> <https://evil|click>"),
            "Fix &lt;!channel&gt; &amp; &lt;@U123|boss&gt; &lt;https://evil|click&gt;"
        );
    }

    #[test]
    fn discord_mentions_are_broken() {
        let escaped = super::discord("@everyone look <@123> <@&9> **bold**");
        assert!(!escaped.contains("@everyone"));
        assert!(!escaped.contains("<@123>"));
        assert!(!escaped.contains("<@&9>"));
        assert!(escaped.contains("\\*\\*bold\\*\\*"));
    }
}
