//! The texts of answers in Kazakh, Russian and English: Project Fluent resources, chosen per
//! call by `accept-language`.
//!
//! The decision speaks in [`Text`]s (a message id and its arguments), never in words; the edge
//! renders them in the caller's [`Lang`] ([`negotiate`] reads `accept-language`, gRPC metadata
//! or HTTP header alike), looking a message up first in the texts of the act the answer cites
//! (its name, its items, the warning: see `decision::legal_basis`) and then in the gateway's own
//! (`locales/<lang>/gateway.ftl`: reasons, notes, representation, the dwelling's reasons). Codes
//! never change with the language.
//!
//! Every message exists in every language (a unit test fails otherwise); the Kazakh and Russian
//! texts are drafts marked `# needs-review` in their files until a native speaker has reviewed
//! them.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::{Deserialize, Serialize};

/// A language answers are worded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Kazakh (the state language).
    Kk,
    /// Russian.
    Ru,
    /// English (the rendering of the order the gateway started with).
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Kk, Lang::Ru, Lang::En];

    /// The BCP 47 tag: `kk`, `ru`, `en`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// The language of an answer from an `accept-language` value (RFC 9110: tags with optional
/// `q` weights): the supported language of the highest weight, matched by primary subtag
/// (`ru-RU` is `ru`); `default` for no header, `*`, or no supported language. A malformed
/// entry is skipped, never an error: the header is a preference.
pub fn negotiate(accept_language: Option<&str>, default: Lang) -> Lang {
    let Some(header) = accept_language else {
        return default;
    };
    let mut best: Option<(u16, Lang)> = None;
    for entry in header.split(',').take(32) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1000), quality);
        let (Some(q), Some(lang)) = (q, primary(tag, default)) else {
            continue;
        };
        if q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map_or(default, |(_, lang)| lang)
}

/// A `q` value in thousandths; `None` when malformed.
fn quality(q: &str) -> Option<u16> {
    let value: f32 = q.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

/// The supported language of a tag (`*` is `default`).
fn primary(tag: &str, default: Lang) -> Option<Lang> {
    if tag == "*" {
        return Some(default);
    }
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    Lang::ALL.into_iter().find(|l| l.tag() == primary)
}

/// Something to say, in words chosen when the answer is rendered: a Fluent message and its
/// arguments. An argument is plain (a number, a date, a record's number, kept as is) or itself
/// a text (rendered in the same language first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text {
    pub id: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Arg {
    Plain(String),
    /// Texts rendered one after the other (an empty list is an empty string).
    Texts(Vec<Text>),
}

impl Text {
    pub fn new(id: &'static str) -> Text {
        Text {
            id,
            args: Vec::new(),
        }
    }

    /// With a plain argument.
    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Text {
        self.args.push((name, Arg::Plain(value.to_string())));
        self
    }

    /// With an argument that is itself a text.
    pub fn text(self, name: &'static str, text: Text) -> Text {
        self.texts(name, vec![text])
    }

    /// With an argument made of texts one after the other.
    pub fn texts(mut self, name: &'static str, texts: Vec<Text>) -> Text {
        self.args.push((name, Arg::Texts(texts)));
        self
    }

    /// The text in English with the shipped act's wording (logs, tests).
    pub fn english(&self) -> String {
        Catalogue::shipped().render(Lang::En, self, None)
    }

    /// Whether the English text contains `s` (tests).
    pub fn contains(&self, s: &str) -> bool {
        self.english().contains(s)
    }

    /// Whether the English text starts with `s` (tests).
    pub fn starts_with(&self, s: &str) -> bool {
        self.english().starts_with(s)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.english())
    }
}

/// Fluent bundles, one per language, each of one or more resources.
pub struct Bundles {
    bundles: Vec<FluentBundle<FluentResource>>,
    /// Unique in the process: names these bundles in [`Catalogue`]'s rendered texts.
    id: u64,
}

impl fmt::Debug for Bundles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundles").finish_non_exhaustive()
    }
}

impl Bundles {
    /// Bundles of the Fluent `sources` of each language; `Err` names the language and the
    /// first syntax error, or a message defined twice.
    pub fn new(sources: impl Fn(Lang) -> Vec<String>) -> Result<Bundles, String> {
        let mut bundles = Vec::new();
        for lang in Lang::ALL {
            let id: unic_langid::LanguageIdentifier =
                lang.tag().parse().map_err(|e| format!("{lang}: {e}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Plain text for IIS TsON screens and grpcurl: no Unicode isolation marks.
            bundle.set_use_isolating(false);
            for source in sources(lang) {
                let resource = FluentResource::try_new(source).map_err(|(_, errors)| {
                    format!("{lang}: Fluent syntax error: {:?}", errors.first())
                })?;
                bundle
                    .add_resource(resource)
                    .map_err(|errors| format!("{lang}: {:?}", errors.first()))?;
            }
            bundles.push(bundle);
        }
        Ok(bundles_of(bundles))
    }

    /// Whether `lang` has the message `id`.
    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.bundles[lang.index()].has_message(id)
    }

    fn format(&self, lang: Lang, id: &str, args: &FluentArgs) -> Option<String> {
        let bundle = &self.bundles[lang.index()];
        let pattern = bundle.get_message(id)?.value()?;
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(args), &mut errors);
        errors.is_empty().then(|| text.into_owned())
    }
}

fn bundles_of(bundles: Vec<FluentBundle<FluentResource>>) -> Bundles {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    Bundles {
        bundles,
        id: NEXT.fetch_add(1, Ordering::Relaxed),
    }
}

/// The message ids a Fluent source defines (terms and comments aside); `Err` on a syntax error.
pub fn message_ids(source: &str) -> Result<BTreeSet<String>, String> {
    let resource = FluentResource::try_new(source.to_owned())
        .map_err(|(_, errors)| format!("Fluent syntax error: {:?}", errors.first()))?;
    Ok(resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect())
}

/// The gateway's own texts (`locales/<lang>/gateway.ftl`), built in.
pub fn gateway_source(lang: Lang) -> &'static str {
    match lang {
        Lang::Kk => include_str!("../locales/kk/gateway.ftl"),
        Lang::Ru => include_str!("../locales/ru/gateway.ftl"),
        Lang::En => include_str!("../locales/en/gateway.ftl"),
    }
}

/// The shipped act's texts (joint order 801/500: its name, the services, the items the
/// answers cite, the warning; `locales/<lang>/joint-order-801-500.ftl`), built in.
pub fn shipped_act_source(lang: Lang) -> &'static str {
    match lang {
        Lang::Kk => include_str!("../locales/kk/joint-order-801-500.ftl"),
        Lang::Ru => include_str!("../locales/ru/joint-order-801-500.ftl"),
        Lang::En => include_str!("../locales/en/joint-order-801-500.ftl"),
    }
}

/// Where a text's words come from: an act's texts first (its name, items, warning), then the
/// gateway's own.
pub struct Catalogue {
    gateway: Bundles,
    /// The shipped act's texts, the fallback of an act that words only some of its messages.
    shipped_act: Bundles,
    /// Texts already rendered, by language, act and text: answers repeat their wording from
    /// call to call, and formatting it again costs more than looking it up.
    rendered: RwLock<hashbrown::HashMap<(Lang, u64, Text), Box<str>>>,
}

/// Rendered texts kept at most; past it, the memory starts again empty (texts with a date or
/// an age in them vary, the common ones come back at once).
const RENDERED: usize = 4096;

impl Catalogue {
    /// The built-in catalogue.
    pub fn shipped() -> &'static Catalogue {
        static SHIPPED: OnceLock<Catalogue> = OnceLock::new();
        SHIPPED.get_or_init(|| Catalogue {
            gateway: Bundles::new(|lang| vec![gateway_source(lang).to_owned()])
                .expect("the built-in gateway texts are valid Fluent"),
            shipped_act: Bundles::new(|lang| vec![shipped_act_source(lang).to_owned()])
                .expect("the built-in act texts are valid Fluent"),
            rendered: RwLock::default(),
        })
    }

    /// `text` in `lang`, its words from `act` (else the shipped act's), then the gateway's. A
    /// message missing everywhere (the tests make sure none is) is rendered in English, or as
    /// its id.
    pub fn render(&self, lang: Lang, text: &Text, act: Option<&Bundles>) -> String {
        let act_id = act.map_or(0, |a| a.id);
        let known = self.rendered.read().unwrap_or_else(|e| e.into_inner());
        if let Some(words) = known.get(&RenderedKey(lang, act_id, text)) {
            return words.to_string();
        }
        drop(known);
        let words = self.format(lang, text, act);
        let mut known = self.rendered.write().unwrap_or_else(|e| e.into_inner());
        if known.len() >= RENDERED {
            known.clear();
        }
        known.insert((lang, act_id, text.clone()), words.as_str().into());
        words
    }

    fn format(&self, lang: Lang, text: &Text, act: Option<&Bundles>) -> String {
        let mut args = FluentArgs::new();
        for (name, arg) in &text.args {
            let value = match arg {
                Arg::Plain(s) => s.clone(),
                Arg::Texts(texts) => texts.iter().map(|t| self.format(lang, t, act)).collect(),
            };
            args.set(*name, FluentValue::from(value));
        }
        [lang, Lang::En]
            .into_iter()
            .find_map(|l| {
                act.into_iter()
                    .chain([&self.shipped_act, &self.gateway])
                    .find_map(|b| b.format(l, text.id, &args))
            })
            .unwrap_or_else(|| text.id.to_owned())
    }
}

/// A rendered text's key, borrowed: hashes and compares as the owned `(Lang, u64, Text)`.
struct RenderedKey<'a>(Lang, u64, &'a Text);

impl Hash for RenderedKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.0, self.1, self.2).hash(state);
    }
}

impl hashbrown::Equivalent<(Lang, u64, Text)> for RenderedKey<'_> {
    fn equivalent(&self, key: &(Lang, u64, Text)) -> bool {
        self.0 == key.0 && self.1 == key.1 && *self.2 == key.2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        use Lang::*;
        for (header, expected) in [
            (None, Ru),
            (Some(""), Ru),
            (Some("kk"), Kk),
            (Some("kk-KZ"), Kk),
            (Some("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"), Ru),
            (Some("en-GB, kk;q=0.5"), En),
            (Some("de-DE, kk;q=0.3, ru;q=0.6"), Ru),
            (Some("fr, de"), Ru),
            (Some("*"), Ru),
            (Some("EN"), En),
            (Some("kk;q=0, en;q=0.1"), En),
            (Some("kk;q=abc, en;q=0.2"), En),
            (Some("kk;q=2, en;q=0.2"), En),
            (Some(";;;,,,"), Ru),
        ] {
            assert_eq!(negotiate(header, Ru), expected, "{header:?}");
        }
        assert_eq!(negotiate(None, Kk), Kk);
    }

    #[test]
    fn every_gateway_message_exists_in_every_language() {
        let ids = |lang| message_ids(gateway_source(lang)).unwrap();
        let english = ids(Lang::En);
        assert!(english.len() > 30, "{english:?}");
        for lang in Lang::ALL {
            let theirs = ids(lang);
            let missing: Vec<_> = english.difference(&theirs).collect();
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert!(extra.is_empty(), "{lang} has {extra:?}, English does not");
        }
    }

    #[test]
    fn every_message_renders_without_error_in_every_language() {
        let c = Catalogue::shipped();
        for lang in Lang::ALL {
            for id in message_ids(gateway_source(lang)).unwrap() {
                let bundle = &c.gateway.bundles[lang.index()];
                let pattern = bundle.get_message(&id).unwrap().value().unwrap();
                let mut errors = Vec::new();
                let mut args = FluentArgs::new();
                for name in [
                    "act", "age", "case", "court", "date", "error", "failure", "from", "group",
                    "index", "record", "registry", "since", "silent", "then", "until", "who",
                ] {
                    args.set(name, FluentValue::from("x"));
                }
                let _ = bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{lang} {id}: {errors:?}");
            }
        }
    }

    #[test]
    fn every_act_message_renders_in_every_language() {
        let c = Catalogue::shipped();
        for lang in Lang::ALL {
            for id in message_ids(shipped_act_source(lang)).unwrap() {
                let bundle = &c.shipped_act.bundles[lang.index()];
                let pattern = bundle.get_message(&id).unwrap().value().unwrap();
                let mut args = FluentArgs::new();
                args.set("service", FluentValue::from("S"));
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{lang} {id}: {errors:?}");
                assert!(!text.is_empty(), "{lang} {id}");
            }
        }
    }

    #[test]
    fn kazakh_and_russian_drafts_are_marked_for_review() {
        for lang in [Lang::Kk, Lang::Ru] {
            let source = gateway_source(lang);
            let messages = message_ids(source).unwrap().len();
            let marked = source.matches("# needs-review").count();
            assert_eq!(marked, messages, "{lang}: every message marked");
        }
    }

    #[test]
    fn texts_render_with_their_arguments_and_no_isolation_marks() {
        let c = Catalogue::shipped();
        let t = Text::new("reason-minor")
            .arg("age", 15)
            .arg("date", "2026-11-25");
        let en = c.render(Lang::En, &t, None);
        assert_eq!(
            en,
            "The owner is 15 on 2026-11-25, under 18 (birth date per GBD FL)"
        );
        let ru = c.render(Lang::Ru, &t, None);
        assert!(ru.contains("15") && ru.contains("2026-11-25"), "{ru}");
        assert_ne!(ru, en);
        assert!(!ru.contains('\u{2068}'), "{ru:?}");
        let kk = c.render(Lang::Kk, &t, None);
        assert_ne!(kk, ru);
        assert_eq!(
            c.render(Lang::Kk, &Text::new("no-such-message"), None),
            "no-such-message"
        );
    }

    #[test]
    fn remembered_wording_is_kept_apart_per_act_and_language() {
        let c = Catalogue::shipped();
        let act = |name: &str| {
            let source = format!("act-name = {name}\n");
            Bundles::new(|_| vec![source.clone()]).unwrap()
        };
        let (first, second) = (act("First act"), act("Second act"));
        let name = Text::new("act-name");
        for _ in 0..2 {
            assert_eq!(c.render(Lang::En, &name, Some(&first)), "First act");
            assert_eq!(c.render(Lang::En, &name, Some(&second)), "Second act");
            let shipped = c.render(Lang::En, &name, None);
            assert!(shipped.contains("801"), "{shipped}");
            assert_ne!(c.render(Lang::Ru, &name, None), shipped);
        }
        // Arguments are part of what is remembered.
        let minor = |age: u32| {
            Text::new("reason-minor")
                .arg("age", age)
                .arg("date", "2026-11-25")
        };
        assert!(c.render(Lang::En, &minor(15), None).contains(" 15 "));
        assert!(c.render(Lang::En, &minor(16), None).contains(" 16 "));
    }
}
