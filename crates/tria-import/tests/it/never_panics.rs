//! Whatever the bytes, reading them ends in rows, a report or a typed error, never a panic.

use proptest::prelude::*;
use tria_import::{Format, Importer};

use crate::support::catalogue;

fn check_all(bytes: &[u8]) {
    for format in [Format::Csv, Format::Json] {
        let _ = catalogue(format, "USD").validate(bytes);
        let _ = catalogue(format, "JPY").validate(bytes);
        let _ = Importer::customers(format).validate(bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_all(&bytes);
    }

    #[test]
    fn csv_like_text_never_panics(body in "[a-z0-9,.\"\\-\r\n @$é\u{feff}]{0,300}") {
        check_all(format!("sku,name,price,stock,active,currency\n{body}").as_bytes());
        check_all(format!("customer_number,email,phone\n{body}").as_bytes());
    }

    #[test]
    fn json_like_text_never_panics(body in "[\\[\\]{}\":,a-z0-9.\\- tnulr]{0,300}") {
        check_all(format!("[{{\"sku\":{body}").as_bytes());
        check_all(body.as_bytes());
    }
}
