//! Concept features: words that mean the same thing in English, Spanish, French and German
//! ("cancel", "anular", "annuler", "stornieren") fire one shared feature, so what the linear head
//! learns from the many English examples carries to the few non-English ones, and pairs that
//! decide a label boundary fire a feature of their own — a reference to an existing order next to
//! a change verb is a change, not a new order; the customer's own invoice, credit note or late fee
//! is billing, not the general rules.

use std::sync::LazyLock;

use regex::Regex;

/// A concept and its cues. A cue is a word, a word prefix (`stem*`) or a phrase of words
/// (matched on word boundaries); all lowercase.
struct Concept {
    name: &'static str,
    cues: &'static [&'static str],
}

const ORDER_REFERENCE: &str = "order-reference";
const CHANGE: &str = "change";
const OWN: &str = "own";
const ACCOUNT_DOCUMENT: &str = "account-document";

const CONCEPTS: &[Concept] = &[
    Concept {
        name: ORDER_REFERENCE,
        cues: &[
            "my order",
            "our order",
            "my orders",
            "our orders",
            "the order i",
            "the order we",
            "order i placed",
            "order we placed",
            "order i just placed",
            "order we just placed",
            "my open order",
            "my current order",
            "my existing order",
            "our open order",
            "our current order",
            "our existing order",
            "my standing order",
            "our standing order",
            "my recurring order",
            "our recurring order",
            "my subscription",
            "our subscription",
            "that order",
            "this order",
            "mi pedido",
            "nuestro pedido",
            "el pedido que",
            "mi orden",
            "ma commande",
            "notre commande",
            "la commande que",
            "cette commande",
            "meine bestellung",
            "meiner bestellung",
            "unsere bestellung",
            "unserer bestellung",
            "meinen auftrag",
            "unseren auftrag",
            "die bestellung von",
            "diese bestellung",
        ],
    },
    Concept {
        name: CHANGE,
        cues: &[
            "add",
            "adding",
            "remove",
            "removing",
            "cancel",
            "cancelling",
            "canceling",
            "change",
            "changing",
            "swap",
            "switch",
            "replace",
            "increase",
            "decrease",
            "reduce",
            "drop",
            "amend",
            "edit",
            "update",
            "modify",
            "fix",
            "correct",
            "bump",
            "hold",
            "pause",
            "skip",
            "postpone",
            "instead",
            "take off",
            "make it",
            "make that",
            "up it",
            "lower",
            "raise",
            "cambi*",
            "añad*",
            "anad*",
            "agreg*",
            "quita*",
            "quiten",
            "cancel*",
            "anul*",
            "modific*",
            "corrig*",
            "sustitu*",
            "reemplaz*",
            "aument*",
            "reduc*",
            "annul*",
            "modifi*",
            "chang*",
            "ajout*",
            "retir*",
            "enlev*",
            "supprim*",
            "remplac*",
            "augment*",
            "rédui*",
            "redui*",
            "änder*",
            "storn*",
            "hinzufüg*",
            "füg*",
            "entfern*",
            "streich*",
            "korrigier*",
            "ersetz*",
            "erhöh*",
            "reduzier*",
            "tausch*",
            "statt",
            "en lugar",
            "au lieu",
        ],
    },
    Concept { name: "order", cues: &["order", "orders", "pedido*", "commande*", "bestellung*", "auftrag*"] },
    Concept {
        name: "where",
        cues: &[
            "where",
            "track*",
            "shipped",
            "dispatched",
            "arrive*",
            "eta",
            "status",
            "delivered",
            "dónde",
            "donde",
            "llega*",
            "enviad*",
            "seguimiento",
            "estado",
            "où",
            "arriv*",
            "expédi*",
            "suivi",
            "statut",
            "wo",
            "ankomm*",
            "kommt",
            "versendet",
            "verschickt",
            "sendungsverfolgung",
            "geliefert",
            "unterwegs",
        ],
    },
    Concept { name: OWN, cues: &["my", "our", "mi", "mis", "nuestr*", "ma", "mon", "mes", "notre", "nos", "mein*", "unser*"] },
    Concept {
        name: ACCOUNT_DOCUMENT,
        cues: &[
            "invoice*",
            "bill",
            "billed",
            "billing",
            "charge*",
            "credit note*",
            "credit memo*",
            "credit limit",
            "statement*",
            "balance",
            "receipt*",
            "payment*",
            "paid",
            "overdue",
            "late fee*",
            "spend",
            "spent",
            "refund*",
            "factur*",
            "cobr*",
            "cargo*",
            "saldo",
            "recibo*",
            "pago*",
            "pagad*",
            "abono*",
            "nota de crédito",
            "límite de crédito",
            "reembols*",
            "débit*",
            "prélev*",
            "solde",
            "reçu",
            "paiement*",
            "payé*",
            "un avoir",
            "l'avoir",
            "relevé*",
            "rembours*",
            "limite de crédit",
            "frais de retard",
            "rechnung*",
            "abgebucht",
            "belastet",
            "quittung*",
            "zahlung*",
            "bezahlt",
            "gutschrift*",
            "kreditlimit*",
            "mahngebühr*",
            "mahnung*",
            "kontoauszug*",
            "erstattung*",
        ],
    },
    Concept {
        name: "general-rule",
        cues: &[
            "policy",
            "policies",
            "do you",
            "can i",
            "can we",
            "what happens if",
            "how long",
            "in general",
            "usually",
            "return*",
            "warranty",
            "shipping",
            "privacy",
            "hours",
            "terms",
            "política*",
            "devoluci*",
            "garantía",
            "envío*",
            "envio*",
            "horario*",
            "plazo*",
            "política",
            "politique*",
            "retour*",
            "garantie",
            "livraison*",
            "horaires",
            "délai*",
            "conditions",
            "richtlinie*",
            "rückgabe*",
            "versandkosten",
            "öffnungszeiten",
            "frist*",
            "bedingungen",
            "rücksend*",
            "umtausch*",
        ],
    },
    Concept {
        name: "failure",
        cues: &[
            "damaged",
            "broken",
            "wrong",
            "late",
            "missing",
            "terrible",
            "awful",
            "unacceptable",
            "disappointed",
            "rude",
            "crushed",
            "leaking",
            "leaked",
            "spoiled",
            "stale",
            "worst",
            "ruined",
            "dented",
            "torn",
            "faulty",
            "defective",
            "dañad*",
            "roto",
            "rota",
            "rotos",
            "rotas",
            "equivocad*",
            "incorrect*",
            "retras*",
            "falt*",
            "terrible",
            "inaceptable",
            "decepcion*",
            "grosero*",
            "endommag*",
            "cassé*",
            "mauvais*",
            "retard*",
            "manqu*",
            "inacceptable",
            "déçu*",
            "impoli*",
            "abîm*",
            "beschädigt*",
            "kaputt*",
            "falsch*",
            "verspät*",
            "fehlt*",
            "fehlen*",
            "unakzeptabel",
            "enttäuscht*",
            "unhöflich*",
            "schrecklich*",
        ],
    },
    Concept {
        name: "person",
        cues: &[
            "person",
            "human",
            "someone",
            "somebody",
            "agent",
            "manager",
            "representative",
            "call",
            "persona",
            "humano",
            "alguien",
            "agente",
            "gerente",
            "encargado",
            "llam*",
            "personne",
            "humain",
            "quelqu'un",
            "conseiller",
            "responsable",
            "appel*",
            "mensch*",
            "jemand*",
            "mitarbeiter*",
            "berater*",
            "anruf*",
            "zurückruf*",
        ],
    },
    Concept {
        name: "buy",
        cues: &[
            "buy",
            "purchase",
            "send me",
            "send us",
            "i'd like",
            "we'd like",
            "i need",
            "we need",
            "we'll take",
            "i'll take",
            "quiero",
            "quisiera",
            "necesito",
            "necesitamos",
            "compr*",
            "pedir",
            "envíen",
            "envien",
            "mánd*",
            "manden",
            "voudrais",
            "voudrions",
            "veux",
            "besoin",
            "achet*",
            "commander",
            "envoyez",
            "möchte*",
            "brauche*",
            "bestellen",
            "kaufen",
            "schicken",
            "hätte gern",
            "hätten gern",
        ],
    },
    Concept {
        name: "product-question",
        cues: &[
            "price",
            "cost",
            "costs",
            "how much",
            "stock",
            "available",
            "compatible",
            "fit",
            "fits",
            "size",
            "sizes",
            "spec*",
            "carry",
            "sell",
            "do you have",
            "precio*",
            "cuesta*",
            "cuánto",
            "cuanto",
            "disponible*",
            "compatible*",
            "tienen",
            "venden",
            "talla*",
            "tamaño*",
            "prix",
            "coûte*",
            "combien",
            "avez-vous",
            "vendez",
            "taille*",
            "preis*",
            "kostet",
            "wieviel",
            "wie viel",
            "lager*",
            "verfügbar*",
            "kompatibel*",
            "passt",
            "haben sie",
            "größe*",
            "vorrätig",
        ],
    },
    Concept {
        name: "pleasantry",
        cues: &[
            "hello", "hi", "hey", "thanks", "thank", "bye", "goodbye", "cheers", "hola", "gracias", "adiós", "adios", "bonjour", "salut",
            "merci", "revoir", "hallo", "danke", "tschüss", "servus", "moin",
        ],
    },
    Concept {
        name: "elsewhere",
        cues: &[
            "weather",
            "joke",
            "recipe",
            "code",
            "capital",
            "president",
            "football",
            "movie",
            "poem",
            "translate",
            "history",
            "amazon",
            "costco",
            "starbucks",
            "walmart",
            "ikea",
            "competitor*",
            "another supplier",
            "other supplier*",
            "chiste",
            "receta",
            "código",
            "película",
            "poema",
            "fútbol",
            "météo",
            "blague",
            "recette",
            "capitale",
            "poème",
            "wetter",
            "witz",
            "rezept",
            "hauptstadt",
            "fußball",
            "gedicht",
        ],
    },
];

static ORDER_NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i)\bord[-\s#]?\d{3,}\b").ok());

/// Lowercase words (letters, digits, apostrophes and inner hyphens), typographic apostrophes folded.
fn words(message: &str) -> Vec<String> {
    message
        .to_lowercase()
        .replace('’', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn cue_matches(cue: &str, words: &[String], joined: &str) -> bool {
    if cue.contains(' ') {
        return match cue.strip_suffix('*') {
            Some(stem) => joined.contains(&format!(" {stem}")),
            None => joined.contains(&format!(" {cue} ")),
        };
    }
    match cue.strip_suffix('*') {
        Some(stem) => words.iter().any(|w| w.starts_with(stem)),
        None => words.iter().any(|w| w == cue),
    }
}

/// The names of the concepts `message` mentions, plus the boundary pairs
/// (`order-reference+change`, `own+account-document`), in a fixed order.
pub fn concepts(message: &str) -> Vec<&'static str> {
    let words = words(message);
    let joined = format!(" {} ", words.join(" "));
    let mut found: Vec<&'static str> =
        CONCEPTS.iter().filter(|c| c.cues.iter().any(|cue| cue_matches(cue, &words, &joined))).map(|c| c.name).collect();
    let has_order_number = ORDER_NUMBER.as_ref().is_some_and(|re| re.is_match(message));
    if has_order_number && !found.contains(&ORDER_REFERENCE) {
        found.insert(0, ORDER_REFERENCE);
    }
    let has = |name: &str| found.contains(&name);
    let mut pairs = Vec::new();
    if has(ORDER_REFERENCE) && has(CHANGE) {
        pairs.push("order-reference+change");
    }
    if has(OWN) && has(ACCOUNT_DOCUMENT) {
        pairs.push("own+account-document");
    }
    found.extend(pairs);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_concept_fires_in_four_languages() {
        for message in ["Cancel it", "Quiero anular el pedido", "Annulez tout", "Bitte stornieren"] {
            assert!(concepts(message).contains(&CHANGE), "{message}: {:?}", concepts(message));
        }
        for message in ["send me my invoice", "¿Dónde está mi factura?", "ma facture est fausse", "Meine Rechnung fehlt"] {
            assert!(concepts(message).contains(&"own+account-document"), "{message}: {:?}", concepts(message));
        }
    }

    #[test]
    fn an_order_reference_with_a_change_verb_is_a_pair_and_a_new_order_is_not() {
        assert!(concepts("add 2 cases of lids to ORD-10042").contains(&"order-reference+change"));
        assert!(concepts("the order I just placed: make it 6 boxes, not 4").contains(&"order-reference+change"));
        assert!(concepts("Ajoutez deux cartons à ma commande").contains(&"order-reference+change"));
        let new_order = concepts("I'd like to order 6 boxes of lids");
        assert!(!new_order.contains(&ORDER_REFERENCE) && !new_order.contains(&"order-reference+change"), "{new_order:?}");
        assert!(concepts("").is_empty());
    }
}
