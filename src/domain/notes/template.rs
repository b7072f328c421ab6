//! release-drafter's template language: `$NAME` variables (capitals and underscores),
//! substituted in one pass, unknown ones left as written; then `replacers`, each a regular
//! expression (`/source/flags`, JavaScript style) or a plain string, with JavaScript's
//! replacement syntax plus release-drafter's escapes (`\n`, `\t`, `\\`, `\u`, `\l`, `\U`,
//! `\L`, `\E`).

use std::collections::HashMap;

use regex::{Captures, Regex, RegexBuilder};

/// A value a template variable stands for: text, or a nested template rendered with its own
/// variables first (the version variables are nested this way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateValue {
    /// Plain text.
    Text(String),
    /// `template` rendered with `variables`.
    Nested {
        /// The nested template.
        template: String,
        /// Its variables.
        variables: Variables,
    },
}

/// Variables by name, including the `$`.
pub type Variables = HashMap<String, TemplateValue>;

impl From<String> for TemplateValue {
    fn from(text: String) -> Self {
        TemplateValue::Text(text)
    }
}

impl From<&str> for TemplateValue {
    fn from(text: &str) -> Self {
        TemplateValue::Text(text.to_owned())
    }
}

/// How large a release body may grow while it is rendered, in bytes: eight times GitHub's
/// 125,000-character limit. A configuration is untrusted input; its expansions (a template
/// repeating `$CHANGES`, replacers repeating their match) stop here before they allocate.
pub const EXPANSION_LIMIT: usize = 8 * 125_000;

/// Renders `template`: every `$NAME` with a value is replaced, others are left untouched.
/// For short templates (names, tags, headings); bodies use [`render_within`].
pub fn render(template: &str, variables: &Variables) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    render_into(&mut out, template, variables, usize::MAX);
    out
}

/// [`render`], stopping once the text passes `limit` bytes: `Err` holds the text cut there.
pub fn render_within(
    template: &str,
    variables: &Variables,
    limit: usize,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len().min(limit) + 64);
    if render_into(&mut out, template, variables, limit) {
        Ok(out)
    } else {
        cut_at(&mut out, limit);
        Err(out)
    }
}

/// False when the text passed `limit` (what followed was not rendered).
fn render_into(out: &mut String, template: &str, variables: &Variables, limit: usize) -> bool {
    let mut within = true;
    render_into_with(out, template, &mut |out: &mut String, name: &str| {
        if !within {
            return true;
        }
        match variables.get(name) {
            Some(TemplateValue::Text(text)) => {
                if out.len().saturating_add(text.len()) > limit {
                    within = false;
                    let room = limit.saturating_sub(out.len());
                    out.push_str(&text[..floor_char_boundary(text, room)]);
                } else {
                    out.push_str(text);
                }
            }
            Some(TemplateValue::Nested {
                template,
                variables,
            }) => within = render_into(out, template, variables, limit),
            None => return false,
        }
        true
    });
    within && out.len() <= limit
}

/// Cuts `text` to at most `limit` bytes, at a character boundary.
pub fn cut_at(text: &mut String, limit: usize) {
    if text.len() > limit {
        let at = floor_char_boundary(text, limit);
        text.truncate(at);
    }
}

/// The largest character boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0)
}

/// A piece of a template: literal text, or a `$NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'t> {
    /// Literal text.
    Text(&'t str),
    /// A variable name, `$` included.
    Variable(&'t str),
}

/// Splits `template` into text and `$NAME` variables (capitals and underscores, greedy).
pub fn tokens(template: &str) -> Vec<Token<'_>> {
    let bytes = template.as_bytes();
    let mut out = Vec::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|b| *b == b'$') {
        i += offset;
        let name_end = bytes[i + 1..]
            .iter()
            .position(|b| !(b.is_ascii_uppercase() || *b == b'_'))
            .map_or(bytes.len(), |n| i + 1 + n);
        if name_end == i + 1 {
            i += 1;
            continue;
        }
        if copied < i {
            out.push(Token::Text(&template[copied..i]));
        }
        out.push(Token::Variable(&template[i..name_end]));
        copied = name_end;
        i = name_end;
    }
    if copied < template.len() {
        out.push(Token::Text(&template[copied..]));
    }
    out
}

/// Renders `template` into `out`, asking `lookup` for each variable: it writes the value
/// and says `true`, or says `false` to leave the name as written.
pub fn render_into_with(
    out: &mut String,
    template: &str,
    lookup: &mut impl FnMut(&mut String, &str) -> bool,
) {
    for token in tokens(template) {
        match token {
            Token::Text(text) => out.push_str(text),
            Token::Variable(name) => {
                if !lookup(out, name) {
                    out.push_str(name);
                }
            }
        }
    }
}

/// A search-and-replace applied to the rendered body.
#[derive(Debug, Clone)]
pub struct Replacer {
    search: Regex,
    global: bool,
    replace: Vec<Piece>,
}

/// A replacement, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// Capture group (0: the whole match).
    Group(usize),
    /// Change the case of the next character.
    Next(Case),
    /// Change the case until `\E`.
    Span(Case),
}

/// Why a replacer's search cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replacer search `{search}` is not a usable regular expression: {reason}")]
pub struct BadReplacer {
    /// The search as configured.
    pub search: String,
    /// What is wrong.
    pub reason: String,
}

impl Replacer {
    /// A replacer from its configured `search` (`/source/flags` or plain text) and `replace`.
    /// Plain text replaces its first occurrence, as a JavaScript string search does.
    pub fn new(search: &str, replace: &str) -> Result<Replacer, BadReplacer> {
        let bad = |reason: String| BadReplacer {
            search: search.to_owned(),
            reason,
        };
        let (search_regex, global) = regex_from_setting(search).map_err(bad)?;
        let groups = search_regex.captures_len();
        Ok(Replacer {
            search: search_regex,
            global,
            replace: parse_replacement(replace, groups),
        })
    }

    /// Applies the replacer to `text`, never growing it past `limit` bytes: `Err` holds the
    /// text cut there.
    pub fn apply_within(&self, text: &str, limit: usize) -> Result<String, String> {
        let mut out = String::with_capacity(text.len().min(limit));
        let mut copied = 0;
        for caps in self
            .search
            .captures_iter(text)
            .take(if self.global { usize::MAX } else { 1 })
        {
            let Some(found) = caps.get(0) else {
                continue;
            };
            out.push_str(&text[copied..found.start()]);
            copied = found.end();
            if out.len() > limit || !expand(&self.replace, &caps, &mut out, limit) {
                cut_at(&mut out, limit);
                return Err(out);
            }
        }
        out.push_str(&text[copied..]);
        if out.len() > limit {
            cut_at(&mut out, limit);
            return Err(out);
        }
        Ok(out)
    }
}

/// The compiled size a configured regular expression may take (bytes).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// How deeply a configured regular expression may nest.
pub const REGEX_NEST_LIMIT: u32 = 64;

/// A pattern as release-drafter writes one: `/source/flags` (JavaScript flags: `i`, `m`, `s`
/// change matching; `g`, `u`, `y`, `d`, `v` do not here), anything else plain text. Also
/// says whether it was global (`g`).
pub fn regex_from_setting(setting: &str) -> Result<(Regex, bool), String> {
    let (source, flags) = match setting.strip_prefix('/').and_then(|s| s.rsplit_once('/')) {
        Some((source, flags)) if !source.is_empty() => (source.to_owned(), flags),
        _ => (regex::escape(setting), ""),
    };
    let mut builder = RegexBuilder::new(&source);
    // Configured expressions are untrusted: bounded in compiled size and nesting.
    builder
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT);
    for flag in flags.chars() {
        match flag {
            'g' | 'u' | 'y' | 'd' | 'v' => {}
            'i' => {
                builder.case_insensitive(true);
            }
            'm' => {
                builder.multi_line(true);
            }
            's' => {
                builder.dot_matches_new_line(true);
            }
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    let regex = builder.build().map_err(|e| e.to_string())?;
    Ok((regex, flags.contains('g')))
}

/// Writes one match's replacement into `dst`; false once `dst` passed `limit` (the rest is
/// not written).
fn expand(pieces: &[Piece], caps: &Captures<'_>, dst: &mut String, limit: usize) -> bool {
    let mut span = Case::Keep;
    let mut next: Option<Case> = None;
    let put = |text: &str, span: Case, next: &mut Option<Case>, dst: &mut String| {
        if dst.len().saturating_add(text.len()) > limit {
            return false;
        }
        if span == Case::Keep && next.is_none() {
            dst.push_str(text);
            return true;
        }
        for c in text.chars() {
            match next.take().unwrap_or(span) {
                Case::Keep => dst.push(c),
                Case::Upper => dst.extend(c.to_uppercase()),
                Case::Lower => dst.extend(c.to_lowercase()),
            }
        }
        dst.len() <= limit
    };
    for piece in pieces {
        let within = match piece {
            Piece::Text(text) => put(text, span, &mut next, dst),
            Piece::Group(n) => put(
                caps.get(*n).map_or("", |m| m.as_str()),
                span,
                &mut next,
                dst,
            ),
            Piece::Next(case) => {
                next = Some(*case);
                true
            }
            Piece::Span(case) => {
                span = *case;
                true
            }
        };
        if !within {
            return false;
        }
    }
    true
}

/// Renders `template` and applies `replacers` in order, the text never passing `limit`
/// bytes: `Err` says which step passed it (`None`: the template; `Some(i)`: replacer `i`)
/// and holds the text cut there.
pub fn render_with_replacers(
    template: &str,
    variables: &Variables,
    replacers: &[Replacer],
    limit: usize,
) -> Result<String, (Option<usize>, String)> {
    let mut text = render_within(template, variables, limit).map_err(|cut| (None, cut))?;
    for (i, replacer) in replacers.iter().enumerate() {
        text = replacer
            .apply_within(&text, limit)
            .map_err(|cut| (Some(i), cut))?;
    }
    Ok(text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Upper,
    Lower,
}

/// Parses JavaScript's `$1`, `$10` (two digits when that group exists), `$&`, `$0`, `$$`
/// and release-drafter's escapes `\n`, `\t`, `\\`, `\u`, `\l`, `\U`, `\L`, `\E`.
fn parse_replacement(replace: &str, groups: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, pieces: &mut Vec<Piece>| {
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(text)));
        }
    };
    let chars: Vec<char> = replace.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1).copied()) {
            ('\\', Some(e)) => {
                i += 2;
                let control = match e {
                    'n' => {
                        text.push('\n');
                        None
                    }
                    't' => {
                        text.push('\t');
                        None
                    }
                    '\\' => {
                        text.push('\\');
                        None
                    }
                    'u' => Some(Piece::Next(Case::Upper)),
                    'l' => Some(Piece::Next(Case::Lower)),
                    'U' => Some(Piece::Span(Case::Upper)),
                    'L' => Some(Piece::Span(Case::Lower)),
                    'E' => Some(Piece::Span(Case::Keep)),
                    other => {
                        text.push('\\');
                        text.push(other);
                        None
                    }
                };
                if let Some(control) = control {
                    flush(&mut text, &mut pieces);
                    pieces.push(control);
                }
            }
            ('$', Some('$')) => {
                text.push('$');
                i += 2;
            }
            ('$', Some('&')) => {
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Group(0));
                i += 2;
            }
            ('$', Some(d)) if d.is_ascii_digit() => {
                let first = d.to_digit(10).unwrap_or(0) as usize;
                let two = chars
                    .get(i + 2)
                    .and_then(|c| c.to_digit(10))
                    .map(|second| first * 10 + second as usize)
                    .filter(|n| *n > 0 && *n < groups);
                let (group, used) = match two {
                    Some(n) => (n, 3),
                    None => (first, 2),
                };
                if group < groups {
                    flush(&mut text, &mut pieces);
                    pieces.push(Piece::Group(group));
                } else {
                    text.push('$');
                    text.push(d);
                }
                i += used;
            }
            (c, _) => {
                text.push(c);
                i += 1;
            }
        }
    }
    flush(&mut text, &mut pieces);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), TemplateValue::from(*v)))
            .collect()
    }

    #[test]
    fn variables_are_greedy_capitals_and_unknown_ones_stay() {
        let v = vars(&[("$A", "x"), ("$A_B", "y")]);
        assert_eq!(render("$A $A_B $A_Bc $Ab $C $", &v), "x y yc xb $C $");
    }

    #[test]
    fn substituted_text_is_not_rendered_again() {
        let v = vars(&[("$TITLE", "costs $CHANGES"), ("$CHANGES", "no")]);
        assert_eq!(render("$TITLE", &v), "costs $CHANGES");
    }

    #[test]
    fn plain_text_search_replaces_the_first_occurrence() {
        let r = Replacer::new("a.b", "X").expect("valid");
        assert_eq!(
            r.apply_within("a.b a.b axb", EXPANSION_LIMIT).as_deref(),
            Ok("X a.b axb")
        );
    }

    #[test]
    fn a_replacer_that_repeats_its_match_stops_at_the_limit() {
        let bomb = Replacer::new("/[\\s\\S]+/", "$&$&$&$&$&$&$&$&").expect("valid");
        let mut text = "x".repeat(1_000);
        let mut steps = 0;
        while let Ok(grown) = bomb.apply_within(&text, 100_000) {
            text = grown;
            steps += 1;
        }
        assert_eq!(steps, 2, "1,000 → 8,000 → 64,000, then past the limit");
        let cut = bomb
            .apply_within(&text, 100_000)
            .expect_err("past the limit");
        assert!(cut.len() <= 100_000, "cut at the limit, never beyond it");
        // Empty matches everywhere, each replaced with text, are bounded the same way.
        let between = Replacer::new("/(?:)/g", "0123456789").expect("valid");
        assert!(between.apply_within(&"é".repeat(50_000), 100_000).is_err());
    }

    #[test]
    fn a_template_repeating_a_long_value_stops_at_the_limit() {
        let v = vars(&[("$CHANGES", &"é".repeat(60_000))]);
        let cut = render_within(&"$CHANGES".repeat(1_000), &v, 1_000_001).expect_err("past");
        assert!(
            cut.len() <= 1_000_001 && cut.len() > 999_000,
            "{}",
            cut.len()
        );
        assert!(render_within("$CHANGES", &v, 1_000_000).is_ok());
    }

    #[test]
    fn unusable_expressions_are_reported() {
        let err = Replacer::new("/(?<=a)b/g", "").expect_err("lookbehind unsupported");
        assert_eq!(err.search, "/(?<=a)b/g");
    }
}
