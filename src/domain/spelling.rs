//! "Did you mean": the known name a typed word is most likely a typo of.

/// The known name closest to `word` (a typo away: at most two edits), for "did you mean"
/// hints on commands, lines and environments.
pub fn closest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    best(word, known, |_| 2)
}

/// The known key `word` most likely meant: two edits, or a quarter of a long key's length
/// (configuration keys are long: `change-title-escapes`).
pub fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    best(word, known, |key| 2.max(key.len() / 4))
}

fn best<'a>(
    word: &str,
    known: impl IntoIterator<Item = &'a str>,
    allowed: impl Fn(&str) -> usize,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    known
        .into_iter()
        .map(|name| {
            (
                strsim::damerau_levenshtein(&word, &name.to_ascii_lowercase()),
                name,
            )
        })
        .filter(|(distance, name)| *distance <= allowed(name) && *distance < name.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}
