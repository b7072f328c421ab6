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

/// Renders `template`: every `$NAME` with a value is replaced, others are left untouched.
pub fn render(template: &str, variables: &Variables) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    render_into(&mut out, template, variables);
    out
}

fn render_into(out: &mut String, template: &str, variables: &Variables) {
    let bytes = template.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let name_end = bytes[i + 1..]
            .iter()
            .position(|b| !(b.is_ascii_uppercase() || *b == b'_'))
            .map_or(bytes.len(), |n| i + 1 + n);
        if name_end == i + 1 {
            i += 1;
            continue;
        }
        let name = &template[i..name_end];
        if let Some(value) = variables.get(name) {
            out.push_str(&template[copied..i]);
            match value {
                TemplateValue::Text(text) => out.push_str(text),
                TemplateValue::Nested {
                    template,
                    variables,
                } => render_into(out, template, variables),
            }
            copied = name_end;
        }
        i = name_end;
    }
    out.push_str(&template[copied..]);
}

/// A search-and-replace applied to the rendered body.
#[derive(Debug, Clone)]
pub struct Replacer {
    search: Regex,
    global: bool,
    replace: String,
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
        let (source, flags) = match search.strip_prefix('/').and_then(|s| s.rsplit_once('/')) {
            Some((source, flags)) if !source.is_empty() => (source.to_owned(), flags),
            _ => (regex::escape(search), ""),
        };
        let mut builder = RegexBuilder::new(&source);
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
                other => return Err(bad(format!("unknown flag `{other}`"))),
            }
        }
        let search_regex = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(Replacer {
            search: search_regex,
            global: flags.contains('g'),
            replace: replace.to_owned(),
        })
    }

    /// Applies the replacer to `text`.
    pub fn apply(&self, text: &str) -> String {
        let limit = if self.global { 0 } else { 1 };
        self.search
            .replacen(text, limit, |caps: &Captures<'_>| {
                expand_replacement(&self.replace, caps)
            })
            .into_owned()
    }
}

/// Renders `template` and applies `replacers` in order.
pub fn render_with_replacers(
    template: &str,
    variables: &Variables,
    replacers: &[Replacer],
) -> String {
    let mut text = render(template, variables);
    for replacer in replacers {
        text = replacer.apply(&text);
    }
    text
}

#[derive(Clone, Copy, PartialEq)]
enum Case {
    Keep,
    Upper,
    Lower,
}

/// Expands JavaScript's `$1`, `$10`, `$&`, `$0`, `$$` and release-drafter's escapes.
fn expand_replacement(replace: &str, caps: &Captures<'_>) -> String {
    let mut out = String::new();
    let mut span = Case::Keep;
    let mut next: Option<Case> = None;
    let push = |out: &mut String, text: &str, span: Case, next: &mut Option<Case>| {
        for c in text.chars() {
            let case = next.take().unwrap_or(span);
            match case {
                Case::Keep => out.push(c),
                Case::Upper => out.extend(c.to_uppercase()),
                Case::Lower => out.extend(c.to_lowercase()),
            }
        }
    };
    let chars: Vec<char> = replace.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match (c, chars.get(i + 1).copied()) {
            ('\\', Some(e)) => {
                i += 2;
                match e {
                    'n' => push(&mut out, "\n", span, &mut next),
                    't' => push(&mut out, "\t", span, &mut next),
                    '\\' => push(&mut out, "\\", span, &mut next),
                    'u' => next = Some(Case::Upper),
                    'l' => next = Some(Case::Lower),
                    'U' => span = Case::Upper,
                    'L' => span = Case::Lower,
                    'E' => span = Case::Keep,
                    other => {
                        let mut s = String::from('\\');
                        s.push(other);
                        push(&mut out, &s, span, &mut next);
                    }
                }
            }
            ('$', Some('$')) => {
                push(&mut out, "$", span, &mut next);
                i += 2;
            }
            ('$', Some('&')) => {
                push(&mut out, &caps[0], span, &mut next);
                i += 2;
            }
            ('$', Some(d)) if d.is_ascii_digit() => {
                let first = d.to_digit(10).unwrap_or(0) as usize;
                // Two digits when that group exists, as JavaScript does.
                let two = chars
                    .get(i + 2)
                    .and_then(|c| c.to_digit(10))
                    .map(|second| first * 10 + second as usize)
                    .filter(|n| *n > 0 && *n < caps.len());
                let (group, used) = match two {
                    Some(n) => (n, 3),
                    None => (first, 2),
                };
                if group < caps.len() {
                    let text = caps.get(group).map_or("", |m| m.as_str());
                    push(&mut out, text, span, &mut next);
                } else {
                    push(&mut out, &format!("${d}"), span, &mut next);
                }
                i += used;
            }
            _ => {
                push(&mut out, &c.to_string(), span, &mut next);
                i += 1;
            }
        }
    }
    out
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
        assert_eq!(r.apply("a.b a.b axb"), "X a.b axb");
    }

    #[test]
    fn unusable_expressions_are_reported() {
        let err = Replacer::new("/(?<=a)b/g", "").expect_err("lookbehind unsupported");
        assert_eq!(err.search, "/(?<=a)b/g");
    }
}
