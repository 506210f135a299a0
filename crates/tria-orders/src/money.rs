//! Amounts as customers read them: every price and total in a reply (the order flow's and the
//! agent's catalogue answers) is formatted here, from minor units with the currency's own
//! decimals (`tria_core::currency`: JPY none, KWD three), so none is ever rounded.

/// `1250 USD` → `$12.50`, `1200 JPY` → `¥1200`, `1234 KWD` → `1.234 KWD`; other currencies keep
/// their code.
pub fn money(minor: i64, currency: &str) -> String {
    let amount = tria_core::currency::decimal(minor, currency);
    let (sign, amount) = match amount.strip_prefix('-') {
        Some(abs) => ("-", abs.to_owned()),
        None => ("", amount),
    };
    match currency.to_ascii_uppercase().as_str() {
        "USD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        "JPY" => format!("{sign}¥{amount}"),
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

    #[test]
    fn money_uses_the_currencys_own_decimals() {
        assert_eq!(money(1200, "JPY"), "¥1200");
        assert_eq!(money(-5, "jpy"), "-¥5");
        assert_eq!(money(1234, "KWD"), "1.234 KWD");
        assert_eq!(money(5, "BHD"), "0.005 BHD");
        assert_eq!(money(123_456, "KRW"), "123456 KRW");
    }
}
