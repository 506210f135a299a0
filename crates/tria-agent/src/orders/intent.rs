//! What a message says about an order in progress, beyond its intent label: an explicit
//! confirmation, a decline, a cancellation, a removal or an addition. Kept strict: only an
//! explicit confirmation places an order.

use super::text::words;

const NEGATIONS: &[&str] = &["no", "not", "don't", "dont", "cancel", "wait", "stop", "change", "nope", "never", "remove", "hold"];
const YES_STARTS: &[&str] = &["confirm", "confirmed", "yes", "yep", "yeah", "ok", "okay", "sure", "proceed", "correct", "y"];
const YES_PHRASES: &[&str] =
    &["place the order", "place order", "place it", "go ahead", "sounds good", "do it", "that's right", "looks good"];

fn joined(message: &str) -> (Vec<String>, String) {
    let ws = words(message);
    let text = ws.join(" ");
    (ws, text)
}

/// "Confirm", "yes, place the order", "ok go ahead" — and nothing that also says no or wait.
pub(crate) fn is_confirmation(message: &str) -> bool {
    let (ws, text) = joined(message);
    if ws.is_empty() || ws.len() > 8 || ws.iter().any(|w| NEGATIONS.contains(&w.as_str())) {
        return false;
    }
    YES_STARTS.contains(&ws[0].as_str()) || YES_PHRASES.iter().any(|p| text.contains(p))
}

/// "No", "never mind", "forget it", "cancel that": drop the draft.
pub(crate) fn is_decline(message: &str) -> bool {
    let (ws, text) = joined(message);
    if ws.is_empty() || ws.len() > 8 {
        return false;
    }
    matches!(ws[0].as_str(), "no" | "nope" | "stop")
        || ["never mind", "nevermind", "forget it", "cancel that", "cancel the order", "cancel it", "don't order", "dont order"]
            .iter()
            .any(|p| text.contains(p))
        || ws == ["cancel"]
}

pub(crate) fn is_cancellation(message: &str) -> bool {
    words(message).iter().any(|w| w.starts_with("cancel"))
}

/// "change", "modify", "make it", "increase" …: about changing an existing order.
pub(crate) fn is_change_request(message: &str) -> bool {
    let ws = words(message);
    ws.iter().any(|w| matches!(w.as_str(), "change" | "modify" | "update" | "increase" | "reduce" | "amend" | "switch"))
        || ws.join(" ").contains("make it")
        || is_removal(message)
        || is_addition(message)
}

/// "actually make it 6", "change the syrup to 3", "remove the pumps", "4 instead": a revision of
/// quantities already asked for (additions are read as new lines, not revisions).
pub(crate) fn is_revision(message: &str) -> bool {
    let ws = words(message);
    let text = format!(" {} ", ws.join(" "));
    ws.iter().any(|w| matches!(w.as_str(), "change" | "modify" | "update" | "increase" | "reduce" | "amend" | "instead" | "actually"))
        || [" make it ", " make that ", " make them ", " set it to "].iter().any(|p| text.contains(p))
        || is_removal(message)
}

pub(crate) fn is_removal(message: &str) -> bool {
    words(message).iter().any(|w| matches!(w.as_str(), "remove" | "drop" | "delete" | "without"))
}

pub(crate) fn is_addition(message: &str) -> bool {
    words(message).iter().any(|w| matches!(w.as_str(), "add" | "extra" | "another" | "more" | "also"))
}

/// The message without its order numbers (`ORD-10004`), so their digits are not read as
/// quantities.
pub(crate) fn without_order_numbers(message: &str, numbers: &[String]) -> String {
    let mut text = message.to_owned();
    for number in numbers {
        let digits = number.trim_start_matches("ORD-");
        let lower = text.to_lowercase();
        for variant in [format!("ord-{digits}"), format!("ord {digits}"), format!("ord#{digits}"), format!("ord{digits}")] {
            if let Some(at) = lower.find(&variant) {
                text.replace_range(at..at + variant.len(), " ");
                break;
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_explicit_confirmations_confirm() {
        for yes in ["Confirm", "yes, place the order", "Yes please", "ok go ahead", "Place the order."] {
            assert!(is_confirmation(yes), "{yes}");
        }
        for not in ["no", "yes but change the cups", "wait", "what is the total?", "don't place it", "hello"] {
            assert!(!is_confirmation(not), "{not}");
        }
        assert!(is_decline("no thanks") && is_decline("never mind") && is_decline("cancel"));
        assert!(!is_decline("cancel ORD-10001 and 10002 and more and more words here"));
    }

    #[test]
    fn order_numbers_are_cut_before_reading_quantities() {
        assert_eq!(without_order_numbers("set ORD-10004 cups to 5", &["ORD-10004".into()]).trim(), "set   cups to 5".trim());
        assert!(is_removal("remove the oat milk") && is_addition("add 2 bags") && is_cancellation("please cancel my order"));
    }

    #[test]
    fn revisions_are_told_from_additions_and_questions() {
        for yes in ["Actually make it 6 cases", "change the caramel syrup to 3", "remove the pumps", "4 instead", "make that 2 boxes"] {
            assert!(is_revision(yes), "{yes}");
        }
        for not in ["add 2 bags of house blend", "what is the total?", "Confirm", "I'd like 5 cases of lids"] {
            assert!(!is_revision(not), "{not}");
        }
    }
}
