//! One line per change: the change template, its authors, escaped titles, commits without a
//! pull request.

use super::RELEASE_BODY_LIMIT;
use super::contributors::{CommitAuthors, Contributor, cmp_ignoring_case};
use crate::domain::notes::changes::{Commit, CommitAuthor, PullRequest};
use crate::domain::notes::config::{DEFAULT_CHANGE_AUTHOR_TEMPLATE, NotesConfig};
use crate::domain::notes::template::{self, TemplateValue, Variables};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The per-change template, parsed once per draft.
#[derive(Debug, Clone, Copy)]
pub(super) enum ChangePiece<'t> {
    Text(&'t str),
    Title,
    Number,
    Author,
    Authors,
    Body,
    Url,
    BaseRef,
    HeadRef,
    Category,
}

pub(super) fn compile_change_template(template: &str) -> Vec<ChangePiece<'_>> {
    template::tokens(template)
        .into_iter()
        .map(|token| match token {
            template::Token::Text(text) => ChangePiece::Text(text),
            template::Token::Variable(name) => match name {
                "$TITLE" => ChangePiece::Title,
                "$NUMBER" => ChangePiece::Number,
                "$AUTHOR" => ChangePiece::Author,
                "$AUTHORS" => ChangePiece::Authors,
                "$BODY" => ChangePiece::Body,
                "$URL" => ChangePiece::Url,
                "$BASE_REF_NAME" => ChangePiece::BaseRef,
                "$HEAD_REF_NAME" => ChangePiece::HeadRef,
                "$CATEGORY" => ChangePiece::Category,
                other => ChangePiece::Text(other),
            },
        })
        .collect()
}

/// One pull request's line; `category` is the title of the category it is listed under
/// (empty when uncategorized).
pub(super) fn change_line(
    config: &NotesConfig,
    pieces: &[ChangePiece<'_>],
    category: &str,
    pr: &PullRequest,
    authors: &CommitAuthors<'_>,
    server_url: &str,
) -> String {
    let mut out = String::with_capacity(config.change_template.len() + pr.title.len() + 32);
    for piece in pieces {
        match piece {
            ChangePiece::Text(text) => out.push_str(text),
            ChangePiece::Title => {
                escape_title_into(&mut out, &pr.title, &config.change_title_escapes)
            }
            ChangePiece::Number => {
                let _ = write!(out, "{}", pr.number);
            }
            ChangePiece::Author => match &pr.author {
                None => out.push_str("ghost"),
                Some(a) if a.is_bot => {
                    let _ = write!(out, "[{}[bot]]({})", a.login, a.url);
                }
                Some(a) => out.push_str(&a.login),
            },
            ChangePiece::Authors => pr_authors_into(&mut out, config, pr, authors, server_url),
            ChangePiece::Body => out.push_str(&pr.body),
            ChangePiece::Url => out.push_str(&pr.url),
            ChangePiece::BaseRef => out.push_str(&pr.base_ref_name),
            ChangePiece::HeadRef => out.push_str(&pr.head_ref_name),
            ChangePiece::Category => out.push_str(category),
        }
        // A line longer than a whole release is of no use: stop before it grows further.
        if out.len() > RELEASE_BODY_LIMIT {
            template::cut_at(&mut out, RELEASE_BODY_LIMIT);
            break;
        }
    }
    out
}

/// `$AUTHORS` of one pull request: its author, then its commits' other authors (bots last,
/// by name), each through `change-author-template` (`$AUTHOR_MENTION` by default) and
/// joined by `change-authors-separator` (`, `), `change-authors-final-separator` before the
/// last; the template with `ghost` when nobody is known.
pub(super) fn pr_authors_into(
    out: &mut String,
    config: &NotesConfig,
    pr: &PullRequest,
    authors: &CommitAuthors<'_>,
    server_url: &str,
) {
    let others = co_authors(pr, authors);
    // Each author as (`$AUTHOR`, `$AUTHOR_MENTION`) written into `into`.
    let write_author = |into: &mut String, index: usize, mention: bool| match index {
        0 if pr.author.is_some() => {
            let Some(author) = &pr.author else { return };
            let login = author.login.as_str();
            let bare = login.strip_suffix("[bot]").unwrap_or(login);
            match (author.is_bot, mention) {
                // An App's bot account links to the App.
                (true, true) => {
                    let _ = write!(into, "[@{bare}[bot]]({})", author.url);
                }
                (true, false) => {
                    let _ = write!(into, "{bare}[bot]");
                }
                (false, true) => Contributor::mention_login_into(into, login, server_url),
                (false, false) => into.push_str(login),
            }
        }
        i => {
            let who = &others[i - usize::from(pr.author.is_some())];
            match (who, mention) {
                (Who::Login(login), true) => {
                    Contributor::mention_login_into(into, login, server_url)
                }
                (Who::Login(login), false) => into.push_str(login),
                (Who::Name(name), _) => into.push_str(name),
            }
        }
    };
    let count = usize::from(pr.author.is_some()) + others.len();
    let plain_mentions = config.change_author_template == DEFAULT_CHANGE_AUTHOR_TEMPLATE;
    if count == 0 {
        out.push_str(&render_author(
            &config.change_author_template,
            "ghost",
            "@ghost",
        ));
        return;
    }
    for index in 0..count {
        if index > 0 {
            let last = index + 1 == count;
            out.push_str(match &config.change_authors_final_separator {
                Some(final_separator) if last => final_separator,
                _ => &config.change_authors_separator,
            });
        }
        if plain_mentions {
            // The default template: straight into the line, no template pass.
            write_author(out, index, true);
        } else {
            let (mut author, mut mention) = (String::new(), String::new());
            write_author(&mut author, index, false);
            write_author(&mut mention, index, true);
            out.push_str(&render_author(
                &config.change_author_template,
                &author,
                &mention,
            ));
        }
    }
}

/// A commit author besides the pull request's: borrowed views, as this runs once per pull
/// request.
#[derive(PartialEq)]
enum Who<'a> {
    Login(&'a str),
    Name(&'a str),
}

/// The pull request's other authors, as its commits name them: each once, people before
/// bots, by name.
fn co_authors<'a>(pr: &PullRequest, authors: &'a CommitAuthors<'_>) -> Vec<Who<'a>> {
    // The author as commits name it: bots commit as `app[bot]`.
    let is_author = |login: &str| {
        pr.author.as_ref().is_some_and(|a| {
            login == a.login || (a.is_bot && login.strip_suffix("[bot]") == Some(a.login.as_str()))
        })
    };
    let mut others: Vec<Who<'a>> = Vec::new();
    for commit_author in authors.of(pr) {
        let who = match commit_author {
            CommitAuthor::User(login) if is_author(login) => continue,
            CommitAuthor::User(login) => Who::Login(login),
            CommitAuthor::Name(name) => Who::Name(name),
        };
        if !others.contains(&who) {
            others.push(who);
        }
    }
    fn name_of<'a>(w: &Who<'a>) -> &'a str {
        match w {
            Who::Login(s) | Who::Name(s) => s,
        }
    }
    let is_bot = |w: &Who<'_>| matches!(w, Who::Login(l) if l.ends_with("[bot]"));
    if others.len() > 1 {
        others.sort_by(|a, b| {
            is_bot(a)
                .cmp(&is_bot(b))
                .then_with(|| cmp_ignoring_case(name_of(a), name_of(b)))
        });
    }
    others
}

/// One author through `change-author-template`.
pub(super) fn render_author(template: &str, author: &str, mention: &str) -> String {
    let mut vars: Variables = HashMap::with_capacity(2);
    vars.insert("$AUTHOR".into(), author.into());
    vars.insert("$AUTHOR_MENTION".into(), mention.into());
    template::render(template, &vars)
}

pub(super) fn commit_line(config: &NotesConfig, commit: &Commit, server_url: &str) -> String {
    let sha = commit.oid.as_deref().map_or("", |o| &o[..o.len().min(7)]);
    let authors: Vec<String> = commit
        .authors
        .iter()
        .map(|a| match a {
            CommitAuthor::User(login) => Contributor::Login {
                login: login.clone(),
                bot_url: None,
            }
            .mention(server_url),
            CommitAuthor::Name(name) => name.clone(),
        })
        .collect();
    let mut vars: Variables = HashMap::new();
    vars.insert(
        "$TITLE".into(),
        TemplateValue::Text(escape_title(&commit.headline, &config.change_title_escapes)),
    );
    vars.insert("$SHA".into(), sha.into());
    vars.insert("$AUTHORS".into(), TemplateValue::Text(authors.join(", ")));
    template::render_within(&config.commit_template, &vars, RELEASE_BODY_LIMIT)
        .unwrap_or_else(|cut| cut)
}

/// Escapes `escapes` characters in a title (`@` and `#` are defused with an empty HTML
/// comment so they do not notify or link); code spans in backticks stay as they are unless
/// the backtick itself is to be escaped.
pub(super) fn escape_title_into(out: &mut String, title: &str, escapes: &str) {
    if escapes.is_empty() && !title.contains('`') {
        out.push_str(title);
        return;
    }
    // Escapes are nearly always ASCII: test those with a bit mask.
    let mut ascii: u128 = 1 << b'`';
    for c in escapes.chars().filter(char::is_ascii) {
        ascii |= 1 << (c as u32);
    }
    let all_ascii = escapes.is_ascii();
    let find_special = |text: &str| {
        if all_ascii {
            // Multi-byte characters never match: scan bytes.
            text.bytes().position(|b| b < 128 && ascii & (1 << b) != 0)
        } else {
            text.find(|c: char| {
                if c.is_ascii() {
                    ascii & (1 << (c as u32)) != 0
                } else {
                    escapes.contains(c)
                }
            })
        }
    };
    let mut rest = title;
    while let Some(at) = find_special(rest) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let c = rest.chars().next().unwrap_or('`');
        if escapes.contains(c) {
            match c {
                '@' | '#' => {
                    out.push(c);
                    out.push_str("<!---->");
                }
                _ => {
                    out.push('\\');
                    out.push(c);
                }
            }
            rest = &rest[c.len_utf8()..];
        } else {
            // A code span: copied whole, or a lone backtick.
            match rest[1..].find('`') {
                Some(end) => {
                    out.push_str(&rest[..end + 2]);
                    rest = &rest[end + 2..];
                }
                None => {
                    out.push('`');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
}

pub(super) fn escape_title(title: &str, escapes: &str) -> String {
    let mut out = String::with_capacity(title.len());
    escape_title_into(&mut out, title, escapes);
    out
}
