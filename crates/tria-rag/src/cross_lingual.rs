//! Retrieval across languages without translation: a German, Spanish or French question is
//! searched with the English words of its policy topics added ("Versandkosten" → "shipping
//! charges", "devolución" → "return returns", "TVA" → "VAT"), so BM25 and the embedder (an
//! English model) find the English policy that answers it. The tables cover the topics tenants'
//! policies are about: shipping and delivery, returns and refunds, payment and invoices, VAT,
//! warranty and damage, orders and accounts, contact and hours.
//!
//! A term matches a word of the question exactly, as a prefix (`"devol*"`) or, for German
//! compounds, anywhere inside it (`"*versand*"`: "Expressversand"); accents are ignored on both
//! sides ("envio" is "envío"). A question in English, or in a language without a table, is
//! searched as it is.

use std::borrow::Cow;

/// One language's terms: the patterns and the English words they add.
type Table = &'static [(&'static [&'static str], &'static str)];

const GERMAN: Table = &[
    (&["*versand*", "*versend*", "verschick*", "*liefer*", "zustell*", "porto"], "shipping delivery"),
    (&["*versandkosten*", "*lieferkosten*", "*kosten*", "*gebühr*", "kostet", "preis*"], "charge charges cost"),
    (&["kostenlos*", "kostenfrei*", "gratis", "versandkostenfrei*"], "free shipping"),
    (&["dauer*", "wie lange", "lieferzeit*", "wann kommt", "tage", "werktag*"], "transit time business days"),
    (&["*frist*", "laufzeit*", "zeitraum*"], "period within days"),
    (&["abgedeckt", "deckt", "umfasst", "inklusive"], "covers cover"),
    (&["express*"], "express next-business-day"),
    (&["bestellschluss", "annahmeschluss", "bis wann", "uhrzeit"], "cut-off dispatch"),
    (&["*rückgabe*", "*rücksend*", "zurückgeb*", "zurücksend*", "zurückschick*", "retour*", "*umtausch*"], "return returns"),
    (&["*erstattung*", "geld zurück", "*gutschrift*"], "refund credit"),
    (&["*zahlung*", "zahlen", "bezahl*", "zahlungsbedingung*", "zahlungsziel*"], "payment pay terms"),
    (&["*rechnung*"], "invoice invoices"),
    (&["kreditkarte*", "karte"], "credit card"),
    (&["überweis*", "lastschrift*", "sepa"], "transfer SEPA direct debit"),
    (&["*verzug*", "verspätet*", "mahn*", "zu spät"], "late payment"),
    (&["mwst", "mehrwertsteuer", "ust", "umsatzsteuer*", "steuer*", "ust-id*"], "VAT tax"),
    (&["*garantie*", "gewährleistung*"], "warranty"),
    (&["beschädigt*", "*schaden*", "*schäden*", "kaputt*", "zerbrochen*", "transportschaden*"], "damage damaged"),
    (&["defekt*", "*mangel*", "mängel*", "fehlerhaft*"], "defect defective fault"),
    (&["*bestell*"], "order"),
    (&["storn*", "abbestell*"], "cancel cancellation"),
    (&["*konto*", "kundenkonto*"], "account"),
    (&["kreditlimit*", "kreditrahmen*"], "credit limit"),
    (&["sendungsverfolgung*", "tracking*", "verfolg*"], "tracking"),
    (&["palette*"], "pallet"),
    (&["feiertag*"], "public holiday"),
    (&["wochenende*"], "weekend"),
    (&["öffnungszeit*", "erreichbar*", "kontakt*", "telefon*"], "contact hours phone"),
    (&["datenschutz*"], "privacy data"),
    (&["lagerung*", "lager*"], "storage warehouse"),
    (&["mengenrabatt*", "rabatt*", "großhandel*", "großmenge*"], "bulk discount wholesale"),
    (&["deutschland"], "Germany"),
    (&["österreich"], "Austria"),
    (&["frankreich"], "France"),
    (&["spanien"], "Spain"),
    (&["italien"], "Italy"),
    (&["niederlande", "holland"], "Netherlands"),
    (&["belgien"], "Belgium"),
    (&["schweiz"], "Switzerland"),
    (&["polen"], "Poland"),
    (&["dänemark"], "Denmark"),
];

const SPANISH: Table = &[
    (&["envio*", "envia*", "enviar*", "entrega*", "entregar*", "transporte*", "despacho*", "mensajer*"], "shipping delivery"),
    (&["gastos", "coste*", "costo*", "cuesta*", "cuestan", "precio*", "tarifa*", "cargo*"], "charge charges cost"),
    (&["gratis", "gratuit*", "sin coste", "sin costo"], "free shipping"),
    (&["tarda*", "cuanto tiempo", "dias", "habiles", "cuando llega*"], "transit time business days"),
    (&["plazo*"], "period within days"),
    (&["cubre", "cubiert*", "incluye"], "covers cover"),
    (&["expres*", "urgente*"], "express next-business-day"),
    (&["hora limite", "hora de corte", "antes de las"], "cut-off dispatch"),
    (&["devol*", "devuelv*", "retorn*", "cambio*", "cambiar"], "return returns"),
    (&["reembols*", "abono*", "nota de credito"], "refund credit"),
    (&["pago*", "pagar*", "condiciones de pago"], "payment pay terms"),
    (&["factura*"], "invoice invoices"),
    (&["tarjeta*"], "credit card"),
    (&["transferencia*", "domiciliacion*", "sepa"], "transfer SEPA direct debit"),
    (&["retraso*", "demora*", "atrasad*", "mora"], "late payment"),
    (&["iva", "impuesto*", "nif", "numero de iva"], "VAT tax"),
    (&["garantia*"], "warranty"),
    (&["dañad*", "daño*", "rot*", "golpead*", "aplastad*"], "damage damaged"),
    (&["defectuos*", "defecto*", "falla*", "averia*"], "defect defective fault"),
    (&["pedido*", "encargo*", "pedir"], "order"),
    (&["cancel*", "anular*"], "cancel cancellation"),
    (&["cuenta*"], "account"),
    (&["limite de credito", "credito"], "credit limit"),
    (&["seguimiento", "rastre*", "localizar"], "tracking"),
    (&["palet*", "pale*"], "pallet"),
    (&["festivo*", "feriado*"], "public holiday"),
    (&["fin de semana", "sabado*", "domingo*"], "weekend"),
    (&["horario*", "contact*", "telefono*", "atencion al cliente"], "contact hours phone"),
    (&["privacidad", "datos personales"], "privacy data"),
    (&["almacen*", "conserv*"], "storage warehouse"),
    (&["descuento*", "mayorista*", "al por mayor", "volumen"], "bulk discount wholesale"),
    (&["alemania"], "Germany"),
    (&["austria"], "Austria"),
    (&["francia"], "France"),
    (&["españa"], "Spain"),
    (&["italia"], "Italy"),
    (&["paises bajos", "holanda"], "Netherlands"),
    (&["belgica"], "Belgium"),
    (&["suiza"], "Switzerland"),
    (&["polonia"], "Poland"),
    (&["dinamarca"], "Denmark"),
    (&["canarias"], "Canary Islands"),
    (&["baleares"], "Balearic Islands"),
];

const FRENCH: Table = &[
    (&["livr*", "expedi*", "envoi*", "envoy*", "transport*", "colis"], "shipping delivery"),
    (&["frais", "cout*", "coute*", "prix", "tarif*", "port"], "charge charges cost"),
    (&["gratuit*", "offert*", "franco"], "free shipping"),
    (&["combien de temps", "jours", "ouvres", "ouvrables", "quand arrive*"], "transit time business days"),
    (&["delai*"], "period time within days"),
    (&["couvr*", "couvert*", "inclu*"], "covers cover"),
    (&["express"], "express next-business-day"),
    (&["heure limite", "avant midi", "jusqu'a quelle heure"], "cut-off dispatch"),
    (&["retour*", "retourn*", "renvoy*", "renvoi*", "echang*"], "return returns"),
    (&["rembours*", "avoir*"], "refund credit"),
    (&["paiement*", "payer", "paye*", "reglement*", "conditions de paiement"], "payment pay terms"),
    (&["factur*"], "invoice invoices"),
    (&["carte*"], "credit card"),
    (&["virement*", "prelevement*", "sepa"], "transfer SEPA direct debit"),
    (&["retard*", "penalite*", "en souffrance"], "late payment"),
    (&["tva", "taxe*", "numero de tva"], "VAT tax"),
    (&["garantie*", "garanti"], "warranty"),
    (&["endommag*", "abim*", "casse*", "dommage*", "ecrase*", "avarie*"], "damage damaged"),
    (&["defectueu*", "defaut*", "panne*"], "defect defective fault"),
    (&["commande*", "commander"], "order"),
    (&["annul*"], "cancel cancellation"),
    (&["compte*"], "account"),
    (&["limite de credit", "encours", "credit"], "credit limit"),
    (&["suivi*", "suivre"], "tracking"),
    (&["palette*"], "pallet"),
    (&["ferie*", "feries"], "public holiday"),
    (&["week-end*", "samedi*", "dimanche*"], "weekend"),
    (&["horaire*", "contact*", "telephone*", "joindre", "service client"], "contact hours phone"),
    (&["confidentialite", "donnees personnelles"], "privacy data"),
    (&["stockage", "conserv*", "entrepot*"], "storage warehouse"),
    (&["remise*", "grossiste*", "en gros", "volume*"], "bulk discount wholesale"),
    (&["allemagne"], "Germany"),
    (&["autriche"], "Austria"),
    (&["france"], "France"),
    (&["espagne"], "Spain"),
    (&["italie"], "Italy"),
    (&["pays-bas", "hollande"], "Netherlands"),
    (&["belgique"], "Belgium"),
    (&["suisse"], "Switzerland"),
    (&["pologne"], "Poland"),
    (&["danemark"], "Denmark"),
    (&["corse"], "Corsica"),
];

fn table(language: &str) -> Option<Table> {
    match language {
        "de" => Some(GERMAN),
        "es" => Some(SPANISH),
        "fr" => Some(FRENCH),
        _ => None,
    }
}

/// Lower case without accents (and ß as ss, œ as oe), so a question typed without them still matches.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'í' | 'ì' | 'î' | 'ï' => out.push('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => out.push('o'),
            'ú' | 'ù' | 'û' | 'ü' => out.push('u'),
            'ñ' => out.push('n'),
            'ç' => out.push('c'),
            'ß' => out.push_str("ss"),
            'œ' => out.push_str("oe"),
            '’' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

/// Whether `pattern` (folded) matches one of `words` or, with a space in it, the phrase in `padded`.
fn matches(pattern: &str, words: &[&str], padded: &str) -> bool {
    let pattern = fold(pattern);
    if pattern.contains(' ') {
        return padded.contains(&format!(" {} ", pattern.trim_matches('*')));
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(inner), _) => {
            let inner = inner.trim_end_matches('*');
            words.iter().any(|w| w.contains(inner))
        }
        (None, Some(prefix)) => words.iter().any(|w| w.starts_with(prefix)),
        (None, None) => words.contains(&pattern.as_str()),
    }
}

/// `query` with the English words of the policy topics it names in `language` (ISO 639-1:
/// `de`, `es`, `fr`) appended, each once; the query itself when it names none or the language
/// has no table (English included).
pub fn expand_query<'q>(query: &'q str, language: &str) -> Cow<'q, str> {
    let added = topic_words(query, language);
    if added.is_empty() { Cow::Borrowed(query) } else { Cow::Owned(format!("{query} {}", added.join(" "))) }
}

/// The English words of the policy topics `query` names in `language`, each once, in the
/// tables' order; empty when it names none or the language has no table (English included).
pub fn topic_words(query: &str, language: &str) -> Vec<&'static str> {
    let Some(table) = table(language) else { return Vec::new() };
    let folded = fold(query);
    let words: Vec<&str> = folded.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\'')).filter(|w| !w.is_empty()).collect();
    let padded = format!(" {} ", words.join(" "));
    let mut added: Vec<&str> = Vec::new();
    for (patterns, english) in table {
        if patterns.iter().any(|p| matches(p, &words, &padded)) {
            for word in english.split(' ') {
                if !added.contains(&word) {
                    added.push(word);
                }
            }
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_question_gains_the_english_words_of_its_topic() {
        let de = expand_query("Wie hoch sind die Versandkosten nach Deutschland?", "de");
        assert!(de.starts_with("Wie hoch sind die Versandkosten nach Deutschland? "), "{de}");
        for word in ["shipping", "charges", "Germany"] {
            assert!(de.contains(word), "{de}");
        }
        assert!(!de.contains("VAT"), "{de}");
        let es = expand_query("¿Cuánto tarda el envio a Francia?", "es");
        for word in ["shipping", "transit", "France"] {
            assert!(es.contains(word), "{es}");
        }
        let fr = expand_query("Quel est le taux de TVA appliqué ?", "fr");
        assert!(fr.contains("VAT") && !fr.contains("shipping"), "{fr}");
        let de = expand_query("Kann ich beschädigte Ware zurückschicken?", "de");
        assert!(de.contains("return") && de.contains("damaged"), "{de}");
    }

    #[test]
    fn english_and_unknown_languages_and_unrelated_words_are_left_alone() {
        let english = "How much is shipping to Germany?";
        assert!(matches!(expand_query(english, "en"), Cow::Borrowed(q) if q == english));
        assert!(matches!(expand_query("Hoeveel kost verzending?", "nl"), Cow::Borrowed(_)));
        assert!(matches!(expand_query("Guten Morgen, alles klar?", "de"), Cow::Borrowed(_)));
        // Every English word is added once however many terms name it.
        let twice = expand_query("Versand und Lieferung", "de");
        assert_eq!(twice.matches("shipping").count(), 1, "{twice}");
    }
}
