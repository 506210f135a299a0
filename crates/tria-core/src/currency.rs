//! Currencies' minor units: how many decimals an ISO 4217 amount has (JPY 0, USD 2, KWD 3), so
//! every amount kept in minor units (prices, totals, invoice lines) is read and written with its
//! currency's real exponent, never an assumed two.

/// ISO 4217 codes whose minor unit is not 1/100; every other code has two decimals.
const EXPONENTS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// Decimals of `code`'s minor unit (any case); 2 for a code not in the table.
pub fn minor_unit_exponent(code: &str) -> u32 {
    let code = code.trim();
    EXPONENTS.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map_or(2, |(_, e)| *e)
}

/// `minor` units of `code` as a plain decimal: `1250` USD → `12.50`, `1200` JPY → `1200`,
/// `1234` KWD → `1.234`. Exact (integer arithmetic), a leading `-` for negative amounts.
pub fn decimal(minor: i64, code: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let exponent = minor_unit_exponent(code);
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(exponent);
    let width = exponent as usize;
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale)
}

/// `minor` units of `code` as a number of whole units (`1234` KWD → `1.234`), for APIs that take
/// decimal amounts as JSON numbers (Xero). The division is correctly rounded, so for every amount
/// below 2^53 minor units the result is the double nearest the decimal and prints as it.
pub fn major_units(minor: i64, code: &str) -> f64 {
    minor as f64 / 10f64.powi(minor_unit_exponent(code) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_currency_has_its_own_decimals() {
        assert_eq!((minor_unit_exponent("USD"), minor_unit_exponent("jpy"), minor_unit_exponent("KWD")), (2, 0, 3));
        assert_eq!((minor_unit_exponent("BHD"), minor_unit_exponent("CLF"), minor_unit_exponent("XYZ")), (3, 4, 2));
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(1250, "USD"), "12.50");
        assert_eq!(decimal(5, "EUR"), "0.05");
        assert_eq!(decimal(1200, "JPY"), "1200");
        assert_eq!(decimal(1234, "KWD"), "1.234");
        assert_eq!(decimal(5, "BHD"), "0.005");
        assert_eq!(decimal(-300, "GBP"), "-3.00");
        assert_eq!(decimal(i64::MIN, "USD"), "-92233720368547758.08");
    }

    #[test]
    fn major_units_print_as_the_decimal() {
        assert_eq!(major_units(1200, "JPY").to_string(), "1200");
        assert_eq!(major_units(1234, "KWD").to_string(), "1.234");
        assert_eq!(major_units(1050, "USD").to_string(), "10.5");
        assert_eq!(major_units(1, "BHD").to_string(), "0.001");
        assert_eq!(serde_json::json!(major_units(199_999, "JPY")).to_string(), "199999.0");
    }
}
