//! A tenant's currency and its minor-unit exponent, and reading a decimal price into the integer
//! minor units the store keeps (`products.unit_price_minor`).

use std::fmt;

use crate::ImportError;

/// An ISO 4217 code with the number of decimals its minor unit has (JPY 0, USD 2, KWD 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Currency {
    code: String,
    exponent: u32,
}

/// Prices above this many minor units are refused: amounts stay exact as `f64` (Xero's decimal
/// amounts are built from them) with room for quantities.
pub(crate) const MAX_PRICE_MINOR: i64 = 1_000_000_000_000_000;

impl Currency {
    /// A three-letter code, any case (stored upper case, as the fixtures have it).
    pub fn new(code: &str) -> Result<Self, ImportError> {
        let code = code.trim();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ImportError::BadTenantCurrency(code.to_owned()));
        }
        let code = code.to_ascii_uppercase();
        let exponent = tria_core::currency::minor_unit_exponent(&code);
        Ok(Self { code, exponent })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// Decimals of the minor unit.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// A decimal amount (`12`, `12.5`, `12.50`) in minor units. Digits past the currency's
    /// decimals are refused unless they are zeros (`1200.00` JPY is 1200: nothing is rounded).
    pub(crate) fn parse_minor(&self, text: &str) -> Result<i64, String> {
        if text.is_empty() {
            return Err("is empty".into());
        }
        if let Some(rest) = text.strip_prefix('-')
            && is_plain_decimal(rest)
        {
            return Err(format!("{text} is negative"));
        }
        if !is_plain_decimal(text) {
            return Err(format!(
                "{text:?} is not a plain decimal like 12.50 (a point for decimals; no currency sign, thousands separator or exponent)"
            ));
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let exponent = self.exponent as usize;
        if fraction.len() > exponent && fraction[exponent..].bytes().any(|b| b != b'0') {
            return Err(format!("{text} has {} decimals; {} has {}", fraction.len(), self.code, self.exponent));
        }
        let kept = &fraction[..fraction.len().min(exponent)];
        let too_large = || format!("{text} is too large");
        let mut minor: i64 = 0;
        for digit in whole.bytes().chain(kept.bytes()).chain(std::iter::repeat_n(b'0', exponent - kept.len())) {
            minor = minor.checked_mul(10).and_then(|m| m.checked_add(i64::from(digit - b'0'))).ok_or_else(too_large)?;
        }
        if minor > MAX_PRICE_MINOR {
            return Err(too_large());
        }
        Ok(minor)
    }
}

/// Digits, optionally a point followed by at least one digit.
fn is_plain_decimal(text: &str) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minor(code: &str, text: &str) -> Result<i64, String> {
        Currency::new(code).map_err(|e| e.to_string())?.parse_minor(text)
    }

    #[test]
    fn prices_become_exact_minor_units_per_currency() {
        assert_eq!(minor("USD", "12.50"), Ok(1250));
        assert_eq!(minor("usd", "12.5"), Ok(1250));
        assert_eq!(minor("EUR", "0"), Ok(0));
        assert_eq!(minor("EUR", "007.01"), Ok(701));
        assert_eq!(minor("JPY", "1200"), Ok(1200));
        assert_eq!(minor("JPY", "1200.00"), Ok(1200));
        assert_eq!(minor("KWD", "1.234"), Ok(1234));
        assert_eq!(minor("USD", "0.1"), Ok(10));
    }

    #[test]
    fn bad_prices_say_why() {
        assert_eq!(minor("USD", "12.345"), Err("12.345 has 3 decimals; USD has 2".into()));
        assert_eq!(minor("JPY", "1200.5"), Err("1200.5 has 1 decimals; JPY has 0".into()));
        assert_eq!(minor("USD", "-1.00"), Err("-1.00 is negative".into()));
        for bad in ["$12", "1,200.00", "12,50", "1e3", "12.", ".5", "abc", "+1", " 1"] {
            assert!(minor("USD", bad).expect_err(bad).contains("not a plain decimal"), "{bad}");
        }
        assert_eq!(minor("USD", "99999999999999999999"), Err("99999999999999999999 is too large".into()));
        assert_eq!(minor("USD", "10000000000000.01"), Err("10000000000000.01 is too large".into()));
    }

    #[test]
    fn a_currency_is_three_letters() {
        assert!(Currency::new("US").is_err());
        assert!(Currency::new("U$D").is_err());
        assert_eq!(Currency::new(" eur ").map(|c| (c.code().to_owned(), c.exponent())).ok(), Some(("EUR".into(), 2)));
    }
}
