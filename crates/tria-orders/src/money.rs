//! Amounts as customers read them: every price and total in a reply (the order flow's and the
//! agent's catalogue answers) is formatted here, from minor units, so none is ever rounded.

/// `12.50 USD` → `$12.50`; unknown currencies keep their code.
pub fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let amount = format!("{}.{:02}", abs / 100, abs % 100);
    match currency.to_ascii_uppercase().as_str() {
        "USD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        other => format!("{sign}{amount} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_is_exact_in_minor_units() {
        assert_eq!(money(1250, "usd"), "$12.50");
        assert_eq!(money(5, "EUR"), "€0.05");
        assert_eq!(money(-300, "GBP"), "-£3.00");
        assert_eq!(money(199_999, "CAD"), "1999.99 CAD");
    }
}
