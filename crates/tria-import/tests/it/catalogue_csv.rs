//! Catalogue uploads as CSV: good files in the shapes spreadsheets write, every kind of bad row
//! with its line and reason, and the whole-file failures.

use tria_import::{Format, ImportError, Limits, ProductRow};

use crate::support::{bad_rows, catalogue, products};

fn csv(body: &str) -> Result<(tria_import::Validated, Vec<ProductRow>), ImportError> {
    products(Format::Csv, "USD", body.as_bytes())
}

#[test]
fn a_good_file_reads_every_column_in_any_order() {
    let body = "Price,SKU,name,description,unit,currency,stock,active,category,notes\n\
                58.00,NW-CUP-08OZ,\"Hot Cup 8 oz, White\",\"Fits NW-LID-08OZ.\nPE lined.\",case of 1000,usd,142,yes,Cups,internal\n\
                6.6,NW-CUP-10OZ,Hot Cup 10 oz,,case of 1000,,0,false,,\n";
    let (validated, rows) = csv(body).expect("valid");
    assert_eq!(validated.rows(), 2);
    assert_eq!(validated.unknown_columns(), ["notes"]);
    assert_eq!(
        rows[0],
        ProductRow {
            sku: "NW-CUP-08OZ".into(),
            name: "Hot Cup 8 oz, White".into(),
            unit_price_minor: 5800,
            currency: "USD".into(),
            description: Some("Fits NW-LID-08OZ.\nPE lined.".into()),
            unit: Some("case of 1000".into()),
            stock: Some(142),
            active: Some(true),
            category: Some("Cups".into()),
        }
    );
    assert_eq!(rows[1].unit_price_minor, 660);
    assert_eq!((rows[1].description.as_deref(), rows[1].stock, rows[1].active), (Some(""), Some(0), Some(false)));
}

#[test]
fn optional_columns_left_out_are_none_so_a_merge_keeps_them() {
    let (_, rows) = csv("sku,name,price\nA-1,Lid,1\n").expect("valid");
    assert_eq!((rows[0].description.clone(), rows[0].stock, rows[0].active, rows[0].unit.clone()), (None, None, None, None));
    let (_, rows) = csv("sku,name,price,stock,active\nA-1,Lid,1,,\n").expect("valid");
    assert_eq!((rows[0].stock, rows[0].active), (None, None), "an empty number or flag is not given");
}

#[test]
fn bom_crlf_and_quoting_as_spreadsheets_write_them() {
    let body = "\u{feff}sku,name,price,description\r\n\
                \"A,1\",\"Say \"\"hi\"\"\",1.50,\r\n\
                B-2,two,2,\"two\r\nlines\"\r\n";
    let (_, rows) = csv(body).expect("valid");
    assert_eq!(rows[0].sku, "A,1");
    assert_eq!(rows[0].name, "Say \"hi\"");
    assert_eq!(rows[0].unit_price_minor, 150);
    assert_eq!(rows[1].description.as_deref(), Some("two\r\nlines"));
    // The quoted line break does not shift the rows after it: C-3 is row 4 in a spreadsheet.
    let report = bad_rows(csv(&format!("{body}C-3,three,3.000001,\r\n")));
    assert_eq!(report, ["line 4 (C-3): price: 3.000001 has 6 decimals; USD has 2"]);
    // A name is one line in chat: a line break in it is refused.
    let report = bad_rows(csv("sku,name,price\r\nA,\"two\r\nlines\",1\r\n"));
    assert_eq!(report, ["line 2 (A): name: contains a line break or control character"]);
}

#[test]
fn an_unterminated_last_row_and_lf_or_crlf_lines_count_the_same() {
    for body in ["sku,name,price\nA,x,1\nB,y,bad", "sku,name,price\r\nA,x,1\r\nB,y,bad\r\n", "sku,name,price\n\"A\",x,1\n\"B\",y,bad\n\n"] {
        assert_eq!(
            bad_rows(csv(body)),
            [
                "line 3 (B): price: \"bad\" is not a plain decimal like 12.50 (a point for decimals; no currency sign, thousands separator or exponent)"
            ],
            "{body:?}"
        );
    }
}

#[test]
fn every_bad_row_is_listed_with_its_spreadsheet_line() {
    let body = "sku,name,price,stock,active,unit,currency\n\
                A-1,Good,1.00,1,true,box,USD\n\
                A-2,,1.00,1,true,box,\n\
                A-3,Price,12.345,1,true,box,\n\
                A-4,Price,$12,1,true,box,\n\
                A-5,Price,-1,1,true,box,\n\
                A-6,Stock,1,-3,true,box,\n\
                A-7,Stock,1,1.5,true,box,\n\
                A-8,Flag,1,1,maybe,box,\n\
                A-1,Again,1,1,true,box,\n\
                a-1,Other case is another sku,1,1,true,box,\n\
                A-9,Ragged,1\n\
                A-10,Euro,1,1,true,box,EUR\n\
                ,No sku,1,1,true,box,\n\
                A-11,Unit,1,1,true,\"a unit far too long to be one for a product in any catalogue, surely\",\n\
                A-12,\"multi\nline\",oops,1,true,box,\n\
                A-13,After the quoted line,x,1,true,box,\n";
    let report = bad_rows(csv(body));
    assert_eq!(
        report,
        [
            "line 3 (A-2): name: is empty",
            "line 4 (A-3): price: 12.345 has 3 decimals; USD has 2",
            "line 5 (A-4): price: \"$12\" is not a plain decimal like 12.50 (a point for decimals; no currency sign, thousands separator or exponent)",
            "line 6 (A-5): price: -1 is negative",
            "line 7 (A-6): stock: -3 is negative",
            "line 8 (A-7): stock: \"1.5\" is not a whole number",
            "line 9 (A-8): active: \"maybe\" is not true or false (or yes/no, 1/0)",
            "line 10 (A-1): sku: duplicate sku \"A-1\" (first at line 2)",
            "line 12 (A-9): has 3 fields; the header has 7",
            "line 13 (A-10): currency: \"EUR\" is not the tenant's currency USD; prices are in USD",
            "line 14: sku: is empty",
            "line 15 (A-11): unit: is 68 characters long; at most 64",
            "line 16 (A-12): name: contains a line break or control character; price: \"oops\" is not a plain decimal like 12.50 (a point for decimals; no currency sign, thousands separator or exponent)",
            "line 17 (A-13): price: \"x\" is not a plain decimal like 12.50 (a point for decimals; no currency sign, thousands separator or exponent)",
        ]
    );
}

#[test]
fn invalid_utf8_is_reported_with_its_line_and_the_rest_still_checked() {
    let mut body = b"sku,name,price\nA-1,Caf".to_vec();
    body.extend_from_slice(&[0xE9]); // "é" in Latin-1
    body.extend_from_slice(b",1\nA-2,ok,1.001\n");
    let report = bad_rows(products(Format::Csv, "USD", &body));
    assert_eq!(
        report,
        [
            "line 2 (A-1): is not valid UTF-8 (column \"name\"): save the file as UTF-8",
            "line 3 (A-2): price: 1.001 has 3 decimals; USD has 2"
        ]
    );
}

#[test]
fn blank_rows_are_skipped_and_do_not_shift_line_numbers() {
    let (validated, rows) = csv("sku,name,price\n\nA-1,x,1\n,,\n").expect("valid");
    assert_eq!((validated.rows(), validated.blank_rows_skipped(), rows.len()), (1, 1, 1));
    assert_eq!(
        bad_rows(csv("sku,name,price\n\n\nA-1,x,bad\n")),
        [
            "line 4 (A-1): price: \"bad\" is not a plain decimal like 12.50 (a point for decimals; no currency sign, thousands separator or exponent)"
        ]
    );
}

#[test]
fn prices_follow_the_tenant_currency_minor_unit() {
    let (_, rows) = products(Format::Csv, "JPY", b"sku,name,price\nA,x,1200\nB,y,1200.00\n").expect("valid");
    assert_eq!(rows.iter().map(|r| (r.unit_price_minor, r.currency.as_str())).collect::<Vec<_>>(), [(1200, "JPY"), (1200, "JPY")]);
    assert_eq!(
        bad_rows(products(Format::Csv, "JPY", b"sku,name,price\nA,x,1200.5\n")),
        ["line 2 (A): price: 1200.5 has 1 decimals; JPY has 0"]
    );
    let (_, rows) = products(Format::Csv, "KWD", b"sku,name,price\nA,x,1.234\n").expect("valid");
    assert_eq!(rows[0].unit_price_minor, 1234);
}

#[test]
fn the_report_lists_a_thousand_rows_and_counts_them_all() {
    let mut body = String::from("sku,name,price\n");
    for i in 0..1_500 {
        body.push_str(&format!("S-{i},x,free\n"));
    }
    let Err(ImportError::Rows(report)) = csv(&body) else { panic!("expected a report") };
    assert_eq!((report.bad_rows.len(), report.total_bad_rows, report.rows_checked, report.truncated), (1_000, 1_500, 1_500, true));
    assert_eq!(report.bad_rows[999].at, tria_import::RowLocation::Line(1_001));
    let json = serde_json::to_value(&report.bad_rows[0]).expect("serialises");
    assert_eq!(json["line"], 2);
    assert_eq!(json["key"], "S-0");
    assert_eq!(json["problems"][0]["column"], "price");
}

#[test]
fn whole_file_problems_are_typed_errors() {
    let err = |body: &[u8]| products(Format::Csv, "USD", body).map(|_| ()).expect_err("rejected");
    assert!(matches!(err(b""), ImportError::Empty));
    assert!(matches!(err(b"\xEF\xBB\xBF"), ImportError::Empty));
    assert!(matches!(err(b"\xFF\xFEs\0k\0u\0"), ImportError::Utf16));
    assert!(matches!(err(b"\n\n"), ImportError::NoHeader));
    assert!(matches!(err(b",,\n1,2,3\n"), ImportError::NoHeader));
    assert!(matches!(err(b"sku,nam\xE9,price\n"), ImportError::HeaderNotUtf8));
    assert!(matches!(err(b"sku,name,price,SKU\n"), ImportError::DuplicateColumn(c) if c == "sku"));
    let missing = err(b"sku,title,cost\nA,x,1\n");
    assert_eq!(missing.to_string(), "missing required column(s): name, price");
    assert!(missing.is_client_error());
    // A JSON body sent as CSV reads as a header without the columns.
    assert!(matches!(err(b"[{\"sku\": \"A\"}]"), ImportError::MissingColumns { .. }));
}

#[test]
fn size_and_row_limits_stop_reading() {
    let limits = Limits { max_bytes: 64, ..Limits::default() };
    let body = format!("sku,name,price\n{}", "A,x,1\n".repeat(20));
    let err = catalogue(Format::Csv, "USD").with_limits(limits).validate(body.as_bytes()).expect_err("too big");
    assert!(matches!(err, ImportError::TooBig { limit: 64 }), "{err:?}");
    let limits = Limits { max_rows: 3, ..Limits::default() };
    let body = "sku,name,price\nA,x,1\nB,x,1\nC,x,1\nD,x,1\n";
    let err = catalogue(Format::Csv, "USD").with_limits(limits).validate(body.as_bytes()).expect_err("too many");
    assert!(matches!(err, ImportError::TooManyRows { limit: 3 }), "{err:?}");
    let ok = catalogue(Format::Csv, "USD").with_limits(limits).validate(&body.as_bytes()[..body.len() - 6]);
    assert_eq!(ok.map(|v| v.rows()).ok(), Some(3));
}

#[test]
fn a_header_alone_is_an_empty_catalogue() {
    let (validated, rows) = csv("sku,name,price\n").expect("valid");
    assert_eq!((validated.rows(), rows.len()), (0, 0));
}
