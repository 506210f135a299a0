//! Catalogue uploads as a JSON array: the same columns as keys, numbers or strings for numbers,
//! array indexes in the report, and the ways a body is not such an array.

use tria_import::{Format, ImportError};

use crate::support::{bad_rows, products};

fn json(body: &str) -> Result<(tria_import::Validated, Vec<tria_import::ProductRow>), ImportError> {
    products(Format::Json, "EUR", body.as_bytes())
}

#[test]
fn a_json_array_of_products() {
    let body = r#"
        [ {"sku": "VP-CHN-8S", "name": "8-Speed Chain", "price": 12.5, "stock": 40, "active": true, "Extra": 1},
          {"SKU": "VP-CHN-9S", "name": "9-Speed Chain", "price": "18.90", "stock": "12", "active": "no", "description": null},
          {"sku": "VP-TUBE", "name": "Tube", "price": 0.1} ]"#;
    let (validated, rows) = json(body).expect("valid");
    assert_eq!(validated.unknown_columns(), ["extra"]);
    assert_eq!(
        rows.iter().map(|r| (r.sku.as_str(), r.unit_price_minor)).collect::<Vec<_>>(),
        [("VP-CHN-8S", 1250), ("VP-CHN-9S", 1890), ("VP-TUBE", 10)]
    );
    assert_eq!((rows[1].stock, rows[1].active, rows[1].description.as_deref()), (Some(12), Some(false), None));
    assert_eq!(rows[0].currency, "EUR");
}

#[test]
fn a_utf8_bom_before_the_array_is_fine() {
    let (validated, _) = json("\u{feff}[{\"sku\": \"A\", \"name\": \"x\", \"price\": 1}]").expect("valid");
    assert_eq!(validated.rows(), 1);
    let (validated, _) = json("[]").expect("an empty array is an empty catalogue");
    assert_eq!(validated.rows(), 0);
}

#[test]
fn bad_elements_are_reported_by_index() {
    let body = r#"[
        {"sku": "A", "name": "ok", "price": 1},
        {"sku": "B", "price": 1.234},
        "not an object",
        {"sku": "A", "name": "dup", "price": 1},
        {"sku": "C", "name": "n", "price": true, "stock": 1.5, "active": 2, "unit": ["box"]},
        {"sku": "D", "name": "exactly 1000: a JSON number is read as written, not rounded", "price": 1e3},
        {"sku": "E", "name": "n", "price": -2}
    ]"#;
    assert_eq!(
        bad_rows(json(body)),
        [
            "index 1 (B): name: is missing; price: 1.234 has 3 decimals; EUR has 2",
            "index 2: is a string, not an object",
            "index 3 (A): sku: duplicate sku \"A\" (first at index 0)",
            "index 4 (C): price: true is not a number; unit: must be text, not an array; stock: 1.5 is not a whole number; active: 2 is not true or false (or yes/no, 1/0)",
            "index 6 (E): price: -2 is negative",
        ]
    );
}

#[test]
fn a_body_that_is_not_an_array_of_objects_is_a_typed_error() {
    let err = |body: &str| json(body).map(|_| ()).expect_err("rejected");
    assert!(matches!(err(r#"{"sku": "A"}"#), ImportError::NotJsonArray(m) if m.contains("expected an array of objects")));
    assert!(matches!(err("42"), ImportError::NotJsonArray(_)));
    assert!(matches!(err("   "), ImportError::NotJsonArray(_)));
    assert!(matches!(err("sku,name,price\n"), ImportError::MalformedJson { line: 1, column: 1, .. }));
    let truncated = err("[{\"sku\": \"A\", \"name\": \"x\", \"price\": 1},\n {\"sku\": ");
    assert!(matches!(truncated, ImportError::MalformedJson { line: 2, .. }), "{truncated:?}");
    assert!(matches!(err("[] []"), ImportError::MalformedJson { .. }));
}
