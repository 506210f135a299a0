//! Deterministic tone adaptation of a reply: the tenant's style (friendly, formal, concise) and
//! the customer's mood (sentiment, urgency from `tria-intent`). Complaints open with an apology,
//! greetings stay brief, angry customers get no exclamation marks and no cheerful filler, urgent
//! ones get the answer first. Same inputs, same text.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use tria_core::{IntentLabel, ToneProfile, ToneStyle};
use tria_intent::{Sentiment, Tone, Urgency};

/// Pleasantries that carry no information.
const FILLERS: &[&str] = &[
    "happy to help",
    "glad to help",
    "great question",
    "good question",
    "thanks for reaching out",
    "thank you for reaching out",
    "thanks for contacting",
    "thank you for contacting",
    "hope this helps",
    "let me know if",
    "feel free to",
    "don't hesitate",
    "do not hesitate",
    "hope you're",
    "hope you are",
    "good news",
    "awesome",
    "no worries",
];

/// Splits after `.`, `!` or `?` followed by whitespace (so `$4.99` stays whole).
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace()) {
            out.push(current.trim().to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out.retain(|s| !s.is_empty());
    out
}

fn is_filler(sentence: &str) -> bool {
    let lower = sentence.to_lowercase().replace('’', "'");
    sentence.split_whitespace().count() <= 14 && FILLERS.iter().any(|f| lower.contains(f))
}

fn is_empathetic(sentence: &str) -> bool {
    let lower = sentence.to_lowercase();
    ["sorry", "apolog", "regret", "understand"].iter().any(|w| lower.contains(w))
}

fn apology(style: ToneStyle) -> &'static str {
    match style {
        ToneStyle::Friendly => "I'm really sorry about this.",
        ToneStyle::Formal => "I sincerely apologise for the inconvenience.",
        ToneStyle::Concise => "Sorry about that.",
    }
}

fn acknowledgement(style: ToneStyle) -> &'static str {
    match style {
        ToneStyle::Friendly => "I understand how frustrating this is.",
        ToneStyle::Formal => "I understand your frustration.",
        ToneStyle::Concise => "Understood.",
    }
}

static CONTRACTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(i'm|i'll|i've|i'd|you're|you'll|you've|we're|we'll|we've|it's|that's|there's|don't|doesn't|didn't|can't|won't|isn't|aren't|wasn't|haven't|hasn't|couldn't|wouldn't|shouldn't|let's)\b")
        .unwrap_or_else(|e| panic!("{e}"))
});

fn expand(contraction: &str) -> &'static str {
    match contraction {
        "i'm" => "I am",
        "i'll" => "I will",
        "i've" => "I have",
        "i'd" => "I would",
        "you're" => "you are",
        "you'll" => "you will",
        "you've" => "you have",
        "we're" => "we are",
        "we'll" => "we will",
        "we've" => "we have",
        "it's" => "it is",
        "that's" => "that is",
        "there's" => "there is",
        "don't" => "do not",
        "doesn't" => "does not",
        "didn't" => "did not",
        "can't" => "cannot",
        "won't" => "will not",
        "isn't" => "is not",
        "aren't" => "are not",
        "wasn't" => "was not",
        "haven't" => "have not",
        "hasn't" => "has not",
        "couldn't" => "could not",
        "wouldn't" => "would not",
        "shouldn't" => "should not",
        _ => "let us",
    }
}

fn formalise(text: &str) -> String {
    let text = text.replace('’', "'");
    let expanded = CONTRACTION.replace_all(&text, |caps: &Captures<'_>| {
        let word = &caps[0];
        let long = expand(&word.to_lowercase());
        if word.starts_with(|c: char| c.is_uppercase()) {
            let mut chars = long.chars();
            chars.next().map(|f| f.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
        } else {
            long.to_owned()
        }
    });
    let mut out = expanded.into_owned();
    for casual in ["Hi there", "Hey there", "Hiya", "Hey", "Hi"] {
        if let Some(rest) = out.strip_prefix(casual)
            && rest.starts_with([' ', ',', '!', '.'])
        {
            out = format!("Hello{rest}");
            break;
        }
    }
    out
}

fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x1F000..=0x1F2FF)
}

/// Calm punctuation: no `!`, no emoji.
fn calm(text: &str) -> String {
    let text: String = text.chars().filter(|c| !is_emoji(*c)).collect();
    let text = text.replace("!?", "?").replace("?!", "?").replace('!', ".");
    let mut out = text.replace("..", ".").replace(" .", ".");
    while out.contains("  ") {
        out = out.replace("  ", " ");
    }
    out.trim().to_owned()
}

/// `reply` in the tenant's voice for this customer's mood and intent.
pub fn adapt_tone(reply: &str, profile: &ToneProfile, intent: IntentLabel, customer: Tone) -> String {
    let style = profile.style;
    let angry = customer.sentiment == Sentiment::Negative;
    let urgent = customer.urgency == Urgency::High;
    let complaint = intent == IntentLabel::Complaint;
    let mut parts = sentences(reply);
    if parts.is_empty() {
        return reply.trim().to_owned();
    }

    if style == ToneStyle::Concise || urgent || angry || complaint {
        let kept: Vec<String> = parts.iter().filter(|s| !is_filler(s)).cloned().collect();
        if !kept.is_empty() {
            parts = kept;
        }
    }
    if intent == IntentLabel::Greeting {
        parts.truncate(if style == ToneStyle::Concise { 1 } else { 2 });
    } else if style == ToneStyle::Concise {
        parts.truncate(3);
    }
    if intent != IntentLabel::Greeting && !parts.first().is_some_and(|s| is_empathetic(s)) {
        if complaint {
            parts.insert(0, apology(style).to_owned());
        } else if angry {
            parts.insert(0, acknowledgement(style).to_owned());
        }
    }
    let sign_off = profile.sign_off.trim();
    if !sign_off.is_empty() && style != ToneStyle::Concise && intent != IntentLabel::Greeting && !reply.contains(sign_off) {
        parts.push(sign_off.to_owned());
    }

    let mut text = parts.join(" ");
    if style == ToneStyle::Formal {
        text = formalise(&text);
    }
    if angry || complaint || style == ToneStyle::Formal {
        text = calm(&text);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(style: ToneStyle, sign_off: &str) -> ToneProfile {
        ToneProfile { style, persona: String::new(), greeting: String::new(), sign_off: sign_off.to_owned() }
    }

    fn tone(sentiment: Sentiment, urgency: Urgency) -> Tone {
        Tone { sentiment, urgency }
    }

    const CALM: Tone = Tone { sentiment: Sentiment::Neutral, urgency: Urgency::Low };

    #[test]
    fn complaints_open_with_an_apology_in_the_tenant_style() {
        let reply = "Great question! Damaged items are replaced free of charge within 14 days. Just reply with a photo!";
        let friendly =
            adapt_tone(reply, &profile(ToneStyle::Friendly, ""), IntentLabel::Complaint, tone(Sentiment::Negative, Urgency::Low));
        assert_eq!(
            friendly,
            "I'm really sorry about this. Damaged items are replaced free of charge within 14 days. Just reply with a photo."
        );
        let formal = adapt_tone(reply, &profile(ToneStyle::Formal, ""), IntentLabel::Complaint, CALM);
        assert_eq!(
            formal,
            "I sincerely apologise for the inconvenience. Damaged items are replaced free of charge within 14 days. Just reply with a photo."
        );
        // already apologetic: no second apology
        let sorry = adapt_tone("Sorry about the damage. We replace it.", &profile(ToneStyle::Friendly, ""), IntentLabel::Complaint, CALM);
        assert_eq!(sorry, "Sorry about the damage. We replace it.");
    }

    #[test]
    fn angry_customers_get_no_exclamation_marks_or_emoji() {
        let reply = "Your order ships today! 🎉 Tracking follows by email!";
        let out = adapt_tone(
            reply,
            &profile(ToneStyle::Friendly, "Cheers, Nora!"),
            IntentLabel::OrderStatus,
            tone(Sentiment::Negative, Urgency::High),
        );
        assert_eq!(out, "I understand how frustrating this is. Your order ships today. Tracking follows by email. Cheers, Nora.");
        assert!(!out.contains('!'));
    }

    #[test]
    fn greetings_stay_brief() {
        let reply = "Hi there! Welcome to Northwind. We sell paper, toner and coffee. Ask me anything about orders.";
        assert_eq!(
            adapt_tone(reply, &profile(ToneStyle::Friendly, "Nora"), IntentLabel::Greeting, CALM),
            "Hi there! Welcome to Northwind."
        );
        assert_eq!(adapt_tone(reply, &profile(ToneStyle::Concise, ""), IntentLabel::Greeting, CALM), "Hi there!");
        assert_eq!(adapt_tone(reply, &profile(ToneStyle::Formal, ""), IntentLabel::Greeting, CALM), "Hello. Welcome to Northwind.");
    }

    #[test]
    fn formal_expands_contractions_and_concise_drops_filler() {
        let reply = "Happy to help! We don't ship on Sundays, and it's $4.99 per box. I'll check stock. Let me know if you need more.";
        let formal = adapt_tone(reply, &profile(ToneStyle::Formal, "Kind regards, Northwind"), IntentLabel::PolicyQuestion, CALM);
        assert_eq!(
            formal,
            "Happy to help. We do not ship on Sundays, and it is $4.99 per box. I will check stock. Let me know if you need more. Kind regards, Northwind"
        );
        let concise = adapt_tone(reply, &profile(ToneStyle::Concise, "Kind regards"), IntentLabel::PolicyQuestion, CALM);
        assert_eq!(concise, "We don't ship on Sundays, and it's $4.99 per box. I'll check stock.");
    }

    #[test]
    fn friendly_neutral_reply_is_kept_and_signed() {
        let reply = "Returns are accepted within 30 days!";
        assert_eq!(
            adapt_tone(reply, &profile(ToneStyle::Friendly, "— Nora"), IntentLabel::PolicyQuestion, CALM),
            "Returns are accepted within 30 days! — Nora"
        );
        let twice = adapt_tone(reply, &profile(ToneStyle::Friendly, "— Nora"), IntentLabel::PolicyQuestion, CALM);
        assert_eq!(twice, adapt_tone(reply, &profile(ToneStyle::Friendly, "— Nora"), IntentLabel::PolicyQuestion, CALM), "deterministic");
    }
}
