//! Sentiment and urgency from a small lexicon: deterministic, explainable and instant, which is
//! what tone adaptation and handoff rules need (they must not flip between identical messages).

use crate::rules::normalise;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sentiment {
    Negative,
    #[default]
    Neutral,
    Positive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Urgency {
    #[default]
    Low,
    High,
}

impl Sentiment {
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Negative => "negative",
            Sentiment::Neutral => "neutral",
            Sentiment::Positive => "positive",
        }
    }
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Low => "low",
            Urgency::High => "high",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tone {
    pub sentiment: Sentiment,
    pub urgency: Urgency,
}

const NEGATIVE: &[&str] = &[
    "angry",
    "annoyed",
    "awful",
    "bad",
    "broken",
    "crushed",
    "damaged",
    "disappointed",
    "disaster",
    "dreadful",
    "fed up",
    "frustrated",
    "frustrating",
    "furious",
    "horrible",
    "leaking",
    "poor",
    "ridiculous",
    "rude",
    "ruined",
    "terrible",
    "unacceptable",
    "unhappy",
    "upset",
    "useless",
    "worst",
    "wrong",
    "not happy",
    "waste",
    "stale",
    "ugh",
    "sick of",
    "never arrived",
    "missing",
    "late again",
    "😡",
    "😠",
    "👎",
    // es / fr / de
    "mal",
    "roto",
    "dañado",
    "tarde",
    "inacceptable",
    "cassé",
    "écrasé",
    "déçu",
    "kaputt",
    "beschädigt",
    "ärgerlich",
    "schlecht",
];

const POSITIVE: &[&str] = &[
    "thanks",
    "thank you",
    "great",
    "perfect",
    "awesome",
    "excellent",
    "love",
    "appreciate",
    "helpful",
    "wonderful",
    "amazing",
    "fantastic",
    "happy",
    "pleased",
    "brilliant",
    "cheers",
    "😊",
    "🙏",
    "👍",
    "🙂",
    "gracias",
    "merci",
    "danke",
];

const URGENT: &[&str] = &[
    "asap",
    "urgent",
    "urgently",
    "immediately",
    "right now",
    "right away",
    "now!",
    "today",
    "emergency",
    "as soon as possible",
    "by tomorrow",
    "tonight",
    "this morning",
    "running out",
    "ran out",
    "out of stock now",
    "before friday",
    "by friday",
    "critical",
    "urgente",
    "dringend",
    "sofort",
    "immédiatement",
];

fn has(text: &str, phrase: &str) -> bool {
    // Single words must stand alone ("mal" must not match "normal"); phrases and emoji match anywhere.
    if phrase.chars().all(char::is_alphabetic) {
        text.split(|c: char| !c.is_alphanumeric()).any(|w| w == phrase)
    } else {
        text.contains(phrase)
    }
}

/// Sentiment and urgency of a customer message.
pub fn assess_tone(message: &str) -> Tone {
    let text = normalise(message);
    let negative = NEGATIVE.iter().filter(|w| has(&text, w)).count();
    let positive = POSITIVE.iter().filter(|w| has(&text, w)).count();
    let shouting = message.chars().filter(|c| c.is_alphabetic()).count() >= 8
        && message.chars().filter(|c| c.is_alphabetic()).all(|c| !c.is_lowercase());
    let exclamations = message.matches('!').count();
    let negative_weight = negative + usize::from(shouting) + usize::from(exclamations >= 2 && negative > 0);
    let sentiment = if negative_weight > positive {
        Sentiment::Negative
    } else if positive > negative_weight {
        Sentiment::Positive
    } else {
        Sentiment::Neutral
    };
    let urgent = URGENT.iter().any(|w| has(&text, w)) || shouting || (exclamations >= 2 && sentiment == Sentiment::Negative);
    Tone { sentiment, urgency: if urgent { Urgency::High } else { Urgency::Low } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_verdicts() {
        let t = assess_tone("The cups arrived crushed, this is unacceptable!!");
        assert_eq!((t.sentiment, t.urgency), (Sentiment::Negative, Urgency::High));
        let t = assess_tone("Thanks so much, that was really helpful 😊");
        assert_eq!((t.sentiment, t.urgency), (Sentiment::Positive, Urgency::Low));
        let t = assess_tone("What are your support hours?");
        assert_eq!((t.sentiment, t.urgency), (Sentiment::Neutral, Urgency::Low));
        assert_eq!(assess_tone("We need 2 cases of lids asap").urgency, Urgency::High);
        assert_eq!(assess_tone("WHERE IS MY ORDER").sentiment, Sentiment::Negative);
        assert_eq!(assess_tone("a normal question").sentiment, Sentiment::Neutral);
    }
}
