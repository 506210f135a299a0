//! The customer's language: detected from each message with lingua (English, German, Spanish,
//! French: the languages replies are written in), kept for the session when a message is too
//! short to tell ("ok", "ORD-10031", "Danke"), and the lead-ins the offline responder writes in it.
//!
//! Why lingua and not whatlang: on the project's short messages whatlang took a quarter of the
//! English questions for another language (retrieval set: 94/127 right with the four languages
//! allowed), lingua none (127/127; 59/60 on intents_multilingual) — docs/QUALITY.md.

use std::sync::LazyLock;

use lingua::{LanguageDetector, LanguageDetectorBuilder};

/// A language Tria detects and writes lead-ins in. Anything else is answered in English.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Language {
    #[default]
    English,
    German,
    Spanish,
    French,
}

/// Fewer words than this (of two letters or more, without digits: "ORD-10031" and SKUs do not
/// count) say too little to tell a language: the session's stays.
const MIN_WORDS: usize = 3;
/// lingua's relative confidence in its best language must reach this, or the session's stays.
const MIN_CONFIDENCE: f64 = 0.5;

static DETECTOR: LazyLock<LanguageDetector> = LazyLock::new(|| {
    use lingua::Language as L;
    LanguageDetectorBuilder::from_languages(&[L::English, L::German, L::Spanish, L::French]).build()
});

impl Language {
    /// ISO 639-1: `en`, `de`, `es`, `fr` (what the chat reply's `language` says).
    pub const fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::German => "de",
            Language::Spanish => "es",
            Language::French => "fr",
        }
    }

    pub fn is_english(self) -> bool {
        self == Language::English
    }

    /// The language's name in English, for the model's instruction.
    pub const fn english_name(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::German => "German",
            Language::Spanish => "Spanish",
            Language::French => "French",
        }
    }

    /// The name of `other` written in this language ("Englisch", "inglés", "anglais").
    fn name_of(self, other: Language) -> &'static str {
        use Language::{English as En, French as Fr, German as De, Spanish as Es};
        match (self, other) {
            (En, l) => l.english_name(),
            (De, En) => "Englisch",
            (De, De) => "Deutsch",
            (De, Es) => "Spanisch",
            (De, Fr) => "Französisch",
            (Es, En) => "inglés",
            (Es, De) => "alemán",
            (Es, Es) => "español",
            (Es, Fr) => "francés",
            (Fr, En) => "anglais",
            (Fr, De) => "allemand",
            (Fr, Es) => "espagnol",
            (Fr, Fr) => "français",
        }
    }

    fn from_lingua(language: lingua::Language) -> Option<Self> {
        match language {
            lingua::Language::English => Some(Language::English),
            lingua::Language::German => Some(Language::German),
            lingua::Language::Spanish => Some(Language::Spanish),
            lingua::Language::French => Some(Language::French),
            #[allow(unreachable_patterns)] // only these four are compiled in
            _ => None,
        }
    }
}

/// The language `text` is written in, when it says enough to tell; `None` for short or
/// ambiguous text ("ok", "ORD-10031 please", "👍").
pub fn detect(text: &str) -> Option<Language> {
    let words = text
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'))
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2 && !w.chars().any(|c| c.is_ascii_digit()))
        .count();
    if words < MIN_WORDS {
        return None;
    }
    let values = DETECTOR.compute_language_confidence_values(text);
    let (best, confidence) = values.first()?;
    if *confidence < MIN_CONFIDENCE {
        return None;
    }
    Language::from_lingua(*best)
}

/// The language of a turn: the message's own when it says enough, else the session's — the
/// newest of the customer's earlier messages (`earlier`, newest first) that says enough —
/// else English.
pub(crate) fn of_turn<'a>(message: &str, earlier: impl IntoIterator<Item = &'a str>) -> Language {
    detect(message).or_else(|| earlier.into_iter().find_map(detect)).unwrap_or_default()
}

/// What the offline responder says before quoting a policy passage to a customer writing in
/// `customer`'s language when the passage is in `source`'s: that the policy is quoted in the
/// tenant's language, in the customer's. `None` when they are the same or the customer writes English.
pub(crate) fn quoting_lead_in(customer: Language, source: Language, title: &str, heading: &str) -> Option<String> {
    if customer == source || customer.is_english() {
        return None;
    }
    let name = customer.name_of(source);
    Some(match customer {
        Language::German => format!(
            "Unsere Richtlinien liegen nur auf {name} vor, deshalb zitiere ich den passenden Abschnitt im Original. Aus „{title}“ ({heading}):"
        ),
        Language::Spanish => format!(
            "Nuestras políticas solo están disponibles en {name}, así que cito el apartado correspondiente en el original. De «{title}» ({heading}):"
        ),
        Language::French => format!(
            "Nos conditions ne sont disponibles qu'en {name} : voici le passage concerné, cité dans la langue d'origine. Extrait de « {title} » ({heading}) :"
        ),
        Language::English => return None,
    })
}

/// The apology a complaint's reply opens with, in the customer's language.
pub(crate) fn complaint_apology(customer: Language) -> &'static str {
    match customer {
        Language::German => "Es tut mir leid, dass es dazu gekommen ist.",
        Language::Spanish => "Lamento mucho lo ocurrido.",
        Language::French => "Je suis désolé de ce qui s'est passé.",
        Language::English => "I'm sorry about this experience.",
    }
}

/// Nothing in the policies answers the question: said in the customer's language.
pub(crate) fn nothing_found(customer: Language, tenant_name: &str) -> Option<String> {
    Some(match customer {
        Language::German => format!(
            "Dazu habe ich in den Richtlinien von {tenant_name} nichts gefunden. Ich kann Sie mit einem Mitarbeiter verbinden, der Ihnen weiterhilft."
        ),
        Language::Spanish => {
            format!("No he encontrado esto en las políticas de {tenant_name}. Puedo ponerle en contacto con una persona que le ayude.")
        }
        Language::French => format!(
            "Je n'ai pas trouvé cela dans les conditions de {tenant_name}. Je peux vous mettre en relation avec une personne qui pourra vous aider."
        ),
        Language::English => return None,
    })
}

/// The instruction a model is given for a customer writing in `customer`'s language: answer in
/// it, quoting every figure exactly as the sources write it (the grounding check compares the
/// reply's numbers with the sources' as written). `None` for English.
pub(crate) fn reply_instruction(customer: Language) -> Option<String> {
    if customer.is_english() {
        return None;
    }
    let name = customer.english_name();
    Some(format!(
        "The customer writes in {name}: write your whole reply in {name}. The sources may be in another language; \
         translate what you quote from them, but copy every number, amount, percentage, date, time and code exactly as the sources write it \
         (same digits, same decimal separator, same currency sign)."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_told_apart_and_short_messages_say_nothing() {
        assert_eq!(detect("Wie hoch sind die Versandkosten nach Deutschland?"), Some(Language::German));
        assert_eq!(detect("¿Cuánto cuesta el envío a España?"), Some(Language::Spanish));
        assert_eq!(detect("Quels sont les frais de livraison pour la France ?"), Some(Language::French));
        assert_eq!(detect("How much is shipping to Germany?"), Some(Language::English));
        assert_eq!(detect("What time does your support team open?"), Some(Language::English));
        for short in ["ok", "ORD-10031", "Danke!", "merci", "👍", "ORD-10031 bitte", ""] {
            assert_eq!(detect(short), None, "{short}");
        }
    }

    #[test]
    fn a_short_message_keeps_the_sessions_language() {
        let earlier = ["ok", "Wie lange dauert die Lieferung nach Österreich?"];
        assert_eq!(of_turn("ok danke", earlier), Language::German);
        assert_eq!(of_turn("How long does delivery to Austria take?", earlier), Language::English);
        assert_eq!(of_turn("ok", []), Language::English);
    }

    #[test]
    fn lead_ins_and_instructions_are_only_for_another_language() {
        assert_eq!(quoting_lead_in(Language::English, Language::English, "Shipping", "Shipping › Charges"), None);
        assert_eq!(quoting_lead_in(Language::German, Language::German, "Versand", "Versand"), None);
        let lead = quoting_lead_in(Language::German, Language::English, "Shipping and Delivery", "Shipping charges").expect("German");
        assert!(lead.contains("auf Englisch") && lead.contains("Shipping and Delivery"), "{lead}");
        assert!(quoting_lead_in(Language::Spanish, Language::English, "t", "h").is_some_and(|l| l.contains("en inglés")));
        assert!(quoting_lead_in(Language::French, Language::English, "t", "h").is_some_and(|l| l.contains("qu'en anglais")));
        assert_eq!(reply_instruction(Language::English), None);
        assert!(reply_instruction(Language::French).is_some_and(|i| i.contains("in French") && i.contains("exactly as the sources")));
    }
}
