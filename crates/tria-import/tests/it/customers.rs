//! Customer uploads: the required number and e-mail, the optional name, company and phone, and
//! the bad rows people send.

use tria_import::{CustomerRow, Format, ImportError};

use crate::support::{bad_rows, customers};

#[test]
fn a_good_customer_file() {
    let body = "customer_number,email,name,company,phone\r\n\
                CUST-1001,maya@bluekettlecafe.example,Maya Thompson,Blue Kettle Café,+1 (555) 010-0199\r\n\
                CUST-1002,d.okafor@harborlight.example,,,\r\n";
    let (validated, rows) = customers(Format::Csv, body.as_bytes()).expect("valid");
    assert_eq!(validated.rows(), 2);
    assert_eq!(
        rows[0],
        CustomerRow {
            customer_number: "CUST-1001".into(),
            email: "maya@bluekettlecafe.example".into(),
            name: Some("Maya Thompson".into()),
            company: Some("Blue Kettle Café".into()),
            phone: Some("+1 (555) 010-0199".into()),
        }
    );
    assert_eq!((rows[1].name.as_deref(), rows[1].phone.as_deref()), (Some(""), Some("")));
}

#[test]
fn bad_customer_rows_are_all_reported() {
    let body = "email,customer_number,name\n\
                maya@x.example,C-1,Maya\n\
                not-an-address,C-2,Dan\n\
                maya@x.example,C-1,Maya again\n\
                c@x.example,c-1,Same number in another case is another customer\n\
                ,C-3,No email\n\
                d@x.example,C-4,\"Tab\there\"\n";
    assert_eq!(
        bad_rows(customers(Format::Csv, body.as_bytes())),
        [
            "line 3 (C-2): email: \"not-an-address\" is not an e-mail address",
            "line 4 (C-1): customer_number: duplicate customer_number \"C-1\" (first at line 2)",
            "line 6 (C-3): email: is empty",
            "line 7 (C-4): name: contains a line break or control character",
        ]
    );
}

#[test]
fn phone_numbers_and_lengths_are_checked() {
    let long_name = "x".repeat(201);
    let body = format!("customer_number,email,phone,name\nC-1,a@x.example,call me,\nC-2,b@x.example,,{long_name}\n");
    assert_eq!(
        bad_rows(customers(Format::Csv, body.as_bytes())),
        ["line 2 (C-1): phone: \"call me\" is not a phone number", "line 3 (C-2): name: is 201 characters long; at most 200"]
    );
}

#[test]
fn customer_columns_are_required() {
    let err = customers(Format::Csv, b"customer_number,name\nC-1,x\n").map(|_| ()).expect_err("missing email");
    assert!(matches!(err, ImportError::MissingColumns { ref missing } if missing == &["email"]), "{err:?}");
}

#[test]
fn customers_as_json_numbers_and_nulls() {
    let body = br#"[{"customer_number": 1001, "email": "a@x.example", "name": null},
                    {"customer_number": "1001", "email": "b@x.example"}]"#;
    assert_eq!(
        bad_rows(customers(Format::Json, body)),
        ["index 1 (1001): customer_number: duplicate customer_number \"1001\" (first at index 0)"]
    );
    let (_, rows) = customers(Format::Json, br#"[{"customer_number": 1001, "email": "a@x.example", "name": null}]"#).expect("valid");
    assert_eq!((rows[0].customer_number.as_str(), rows[0].name.as_deref()), ("1001", None));
}
