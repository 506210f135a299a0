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

/// "Cancel ORD-…", "please cancel my order" — but not "please don't cancel it" or "no need to
/// cancel".
pub(crate) fn is_cancellation(message: &str) -> bool {
    let ws = words(message);
    ws.iter().enumerate().any(|(i, w)| w.starts_with("cancel") && !negated(&ws[..i]))
}

/// The two words before a verb say not to do it: "don't cancel", "do not cancel", "not to
/// cancel", "no need to cancel", "never cancel".
fn negated(before: &[String]) -> bool {
    let start = before.len().saturating_sub(3);
    before[start..].iter().any(|w| matches!(w.as_str(), "not" | "don't" | "dont" | "never" | "no" | "without" | "doesn't" | "won't"))
}

/// "Confirm", "confirm order", "Confirm the order": the word the order summary asks for (and
/// its button sends), on its own.
pub(crate) fn is_order_confirmation_word(message: &str) -> bool {
    let ws = words(message);
    matches!(ws.first().map(String::as_str), Some("confirm" | "confirmed"))
        && ws.len() <= 3
        && ws[1..].iter().all(|w| matches!(w.as_str(), "order" | "the" | "it" | "please"))
}

/// "Please don't cancel ORD-…": names cancelling only to say not to.
pub(crate) fn declines_cancellation(message: &str) -> bool {
    words(message).iter().any(|w| w.starts_with("cancel")) && !is_cancellation(message)
}

/// The answer to "do you want me to cancel …?" that cancels: an explicit confirmation, or a
/// yes that says cancel ("yes, cancel it") — nothing that also says not to.
pub(crate) fn confirms_cancellation(message: &str) -> bool {
    let ws = words(message);
    if ws.is_empty() || ws.len() > 8 {
        return false;
    }
    let yes = YES_STARTS.contains(&ws[0].as_str()) || ws[0] == "please";
    is_confirmation(message)
        || (yes && is_cancellation(message) && !ws.iter().any(|w| matches!(w.as_str(), "no" | "not" | "keep" | "wait")))
}

/// The answer to "do you want me to cancel …?" that keeps the order.
pub(crate) fn keeps_order(message: &str) -> bool {
    let ws = words(message);
    let text = ws.join(" ");
    (!ws.is_empty() && matches!(ws[0].as_str(), "no" | "nope" | "don't" | "dont" | "keep" | "stop" | "wait"))
        || ["keep it", "keep the order", "never mind", "nevermind", "forget it", "do not cancel", "don't cancel", "dont cancel"]
            .iter()
            .any(|p| text.contains(p))
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
        assert!(!is_cancellation("Please do NOT cancel ORD-97908127, I still need it") && !is_cancellation("no need to cancel it"));
        assert!(!is_cancellation("don't cancel") && is_cancellation("cancel it, don't ship it"));
        assert!(declines_cancellation("Please do NOT cancel ORD-1, I still need it") && !declines_cancellation("cancel ORD-1"));
        assert!(!declines_cancellation("where is ORD-1?"));
        assert!(
            is_order_confirmation_word("Confirm")
                && is_order_confirmation_word("confirm order")
                && is_order_confirmation_word("Confirm the order")
        );
        assert!(!is_order_confirmation_word("yes") && !is_order_confirmation_word("confirm my address is 5 Main St"));
        assert!(confirms_cancellation("Confirm") && confirms_cancellation("yes, cancel it") && confirms_cancellation("yes please"));
        assert!(
            !confirms_cancellation("no, don't cancel")
                && !confirms_cancellation("yes but not yet, wait")
                && !confirms_cancellation("keep it")
        );
        assert!(keeps_order("No") && keeps_order("keep it please") && keeps_order("don't cancel it") && !keeps_order("Confirm"));
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
