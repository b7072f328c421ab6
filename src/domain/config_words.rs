//! Configuration errors in the words of the person who wrote the file: the expected kind of
//! value instead of Rust's type names, the nearest known key for a typo, a hint when a line is
//! indented further than its mapping, and the keys a section knows (read from its
//! deserializer, so the list never drifts from the code).

use serde::Deserialize;
use serde::de::{self, Visitor};

/// The keys the struct `T` accepts, as written in a file.
pub fn struct_keys<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that only listens: a derived struct names its fields when it asks for
    /// itself, then gives up.
    struct Listen<'a>(&'a mut &'static [&'static str]);

    #[derive(Debug)]
    struct Heard;
    impl std::fmt::Display for Heard {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("keys heard")
        }
    }
    impl std::error::Error for Heard {}
    impl de::Error for Heard {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Heard
        }
    }

    impl<'de> de::Deserializer<'de> for Listen<'_> {
        type Error = Heard;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Heard> {
            Err(Heard)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Heard> {
            *self.0 = fields;
            Err(Heard)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut keys: &'static [&'static str] = &[];
    let _ = T::deserialize(Listen(&mut keys));
    keys
}

/// A deserializer for a struct that reads its own keys and skips the others at the top
/// level, as release-drafter's `allowUnknown` does: a skipped key's value is read as
/// [`de::IgnoredAny`] (nothing kept, so an alias-heavy value costs no memory), while its
/// anchors still serve the keys that are read. Nested mappings stay strict.
pub struct SkipUnknownKeys<D>(pub D);

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for SkipUnknownKeys<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(OwnKeys { visitor, fields })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// The struct's visitor, given only its own keys.
struct OwnKeys<V> {
    visitor: V,
    fields: &'static [&'static str],
}

impl<'de, V: Visitor<'de>> Visitor<'de> for OwnKeys<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(OwnEntries {
            map,
            fields: self.fields,
        })
    }
}

struct OwnEntries<A> {
    map: A,
    fields: &'static [&'static str],
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for OwnEntries<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        use serde::de::IntoDeserializer as _;
        while let Some(key) = self.map.next_key::<String>()? {
            if self.fields.contains(&key.as_str()) {
                return seed.deserialize(key.into_deserializer()).map(Some);
            }
            self.map.next_value::<de::IgnoredAny>()?;
        }
        Ok(None)
    }

    fn next_value_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

pub use super::spelling::nearest;

/// The kind of value a Rust type name stands for, as a file's author would say it.
fn kind_of(expected: &str) -> Option<&'static str> {
    Some(match expected.trim() {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" | "string" | "a borrowed string" => "text",
        "a sequence" => "a list",
        "a map" => "a mapping (key: value lines)",
        "a character" => "a single character",
        _ if expected.trim().starts_with("struct ") => "a mapping (key: value lines)",
        _ => return None,
    })
}

/// A found value as a file's author would say it (`string "x"` → `the text "x"`).
fn found_words(found: &str) -> String {
    let found = found.trim();
    if let Some(rest) = found.strip_prefix("string ") {
        return format!("the text {rest}");
    }
    if let Some(rest) = found.strip_prefix("integer ") {
        return format!("the number {}", rest.trim_matches('`'));
    }
    if let Some(rest) = found.strip_prefix("floating point ") {
        return format!("the number {}", rest.trim_matches('`'));
    }
    if let Some(rest) = found.strip_prefix("boolean ") {
        return rest.trim_matches('`').to_owned();
    }
    match found {
        "sequence" => "a list".into(),
        "map" => "a mapping".into(),
        "unit value" | "null" => "nothing (an empty value)".into(),
        other => other.to_owned(),
    }
}

/// `message` (serde's or the YAML reader's) in the file author's words; `found` is the value
/// written where the error is, when the reader's message does not say it.
pub fn in_user_words(message: &str, found: Option<&str>) -> String {
    // "unknown field `verison`, expected one of `version`, `trains`" (serde), or the same
    // without backticks (the YAML reader): the nearest key, else the keys there are.
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((word, tail)) = rest.split_once('`')
    {
        let tail = tail.trim_start_matches(',').trim();
        let list = tail
            .strip_prefix("expected one of ")
            .or_else(|| tail.strip_prefix("expected "))
            .unwrap_or("");
        let known: Vec<&str> = list
            .split(", ")
            .flat_map(|k| k.split(" or "))
            .map(|k| k.trim().trim_matches('`'))
            .filter(|k| !k.is_empty())
            .collect();
        return match nearest(word, known.iter().copied()) {
            Some(key) => format!("unknown key `{word}`: did you mean `{key}`?"),
            None if known.is_empty() => {
                format!("unknown key `{word}`: this mapping takes no keys")
            }
            None => format!(
                "unknown key `{word}`; the keys here are {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    // "invalid type: string \"x\", expected u32" / "invalid value: integer `-1`, expected u32".
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.rsplit_once(", expected ")
        {
            let wanted = kind_of(expected).map_or_else(|| expected.to_owned(), str::to_owned);
            return format!("expected {wanted}, found {}", found_words(found));
        }
    }
    // The YAML reader's own: "invalid u64", "invalid boolean", "expected sequence start".
    let wanted = match message.strip_prefix("invalid ") {
        Some("boolean") => Some("true or false"),
        Some(kind) => kind_of(kind),
        None => match message {
            "expected sequence start" => Some("a list"),
            "expected mapping start" | "expected struct" => Some("a mapping (key: value lines)"),
            _ => None,
        },
    };
    if let Some(wanted) = wanted {
        return match found.map(str::trim).filter(|f| !f.is_empty()) {
            Some(found) => format!("expected {wanted}, found `{found}`"),
            None => format!("expected {wanted}"),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or_default();
        return format!("the key `{key}` is required here");
    }
    message.to_owned()
}

/// The value written at the 1-based `line` and `column` of `text` (to the end of the line,
/// a trailing comment left out).
pub fn value_at(text: &str, line: u64, column: u64) -> Option<&str> {
    let this = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = this
        .char_indices()
        .nth(usize::try_from(column).ok()?.checked_sub(1)?)?
        .0;
    let value = &this[start..];
    Some(value.split(" #").next().unwrap_or(value).trim())
}

/// A hint when the 1-based `line` of `text` is indented further than the line above it
/// although that line opens no mapping or list of its own (a value follows its colon).
pub fn indentation_hint(text: &str, line: u64) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let this = lines.get(index)?;
    // A list item's mapping starts after its dash: `- name: x` then `  branch: y` line up.
    let indent = |l: &str| {
        let spaces = l.len() - l.trim_start().len();
        let dashes = l.trim_start().len() - l.trim_start().trim_start_matches(['-', ' ']).len();
        spaces + dashes
    };
    let above = lines[..index]
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let above_content = above.trim();
    let above_opens = above_content.ends_with(':')
        || above_content.ends_with('|')
        || above_content.ends_with('>')
        || above_content.ends_with("|-")
        || above_content.ends_with(">-")
        || above_content == "-";
    (indent(this) > indent(above) && !above_opens && this.trim_start().contains(':')).then(|| {
        format!(
            "line {line} is indented further than the line above it, whose key already has a \
             value; keys of the same mapping line up"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    #[allow(dead_code, reason = "only its keys are read")]
    struct Sample {
        tag_prefix: Option<String>,
        version: Option<u32>,
    }

    #[test]
    fn a_structs_keys_are_read_from_its_deserializer() {
        assert_eq!(struct_keys::<Sample>(), ["tag-prefix", "version"]);
    }

    #[test]
    fn typos_find_the_nearest_key_and_only_a_near_one() {
        let known = ["version", "trains", "notes", "chat"];
        assert_eq!(nearest("verison", known), Some("version"));
        assert_eq!(nearest("train", known), Some("trains"));
        assert_eq!(nearest("deployments", known), None);
        assert_eq!(nearest("x", known), None);
    }

    #[test]
    fn messages_speak_of_values_not_types() {
        assert_eq!(
            in_user_words("invalid type: string \"soon\", expected u32", None),
            "expected a whole number (0 or more), found the text \"soon\""
        );
        assert_eq!(
            in_user_words("invalid value: integer `-1`, expected u32", None),
            "expected a whole number (0 or more), found the number -1"
        );
        assert_eq!(
            in_user_words("invalid type: sequence, expected a boolean", None),
            "expected true or false, found a list"
        );
        assert_eq!(
            in_user_words(
                "unknown field `verison`, expected one of `trains`, `version`",
                None
            ),
            "unknown key `verison`: did you mean `version`?"
        );
        assert_eq!(
            in_user_words("unknown field `zzz`, expected `trains` or `version`", None),
            "unknown key `zzz`; the keys here are `trains`, `version`"
        );
        // The YAML reader's wording, without backticks, and its bare "invalid u64".
        assert_eq!(
            in_user_words(
                "unknown field `verison`, expected one of version, trains",
                None
            ),
            "unknown key `verison`: did you mean `version`?"
        );
        assert_eq!(
            in_user_words("invalid u64", Some("soon")),
            "expected a whole number (0 or more), found `soon`"
        );
        assert_eq!(
            in_user_words("invalid boolean", Some("maybe")),
            "expected true or false, found `maybe`"
        );
        assert_eq!(value_at("a:\n  b: soon # later\n", 2, 6), Some("soon"));
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        labels: Vec<String>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        fix: Inner,
    }

    #[test]
    fn unknown_top_level_keys_are_skipped_and_their_anchors_still_serve() {
        let text = "x-labels: &fix [bug, fix]\nfix:\n  labels: *fix\nother: {a: 1}\n";
        let read: Outer = serde_saphyr::with_deserializer_from_str(text, |de| {
            Outer::deserialize(SkipUnknownKeys(de))
        })
        .expect("read");
        assert_eq!(read.fix.labels, ["bug", "fix"]);
        // Nested mappings stay strict.
        let nested = "fix:\n  labels: []\n  lables: []\n";
        let refused: Result<Outer, _> = serde_saphyr::with_deserializer_from_str(nested, |de| {
            Outer::deserialize(SkipUnknownKeys(de))
        });
        assert!(refused.is_err());
    }

    #[test]
    fn a_line_indented_under_a_key_with_a_value_gets_a_hint() {
        let text =
            "trains:\n  lines:\n    - name: main\n      branch: master\n        include: all\n";
        assert!(indentation_hint(text, 5).is_some_and(|h| h.contains("line 5")));
        assert_eq!(indentation_hint(text, 4), None);
        assert_eq!(indentation_hint(text, 2), None);
    }
}
