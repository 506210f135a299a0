//! What a catalogue row and a customer row are: their columns, limits and checks, and the typed
//! rows handed to the caller (shaped after `tria_store`'s `NewProduct` and `NewCustomer`).

use crate::currency::Currency;
use crate::fields::{Cell, TextColumn, count, flag, is_email, is_phone, optional_text, required_text, shown};
use crate::report::Problem;

/// A column an upload may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub required: bool,
}

/// The cells of one row, in [`Schema::columns`] order (opaque outside this crate).
#[derive(Clone, Copy, Debug)]
pub struct RowCells<'a>(pub(crate) &'a [Cell<'a>]);

impl<'a> RowCells<'a> {
    fn get(&self, column: usize) -> Cell<'a> {
        self.0.get(column).copied().unwrap_or(Cell::Absent)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A kind of upload: [`Catalogue`] or [`Customers`]. The first column is the key, unique within
/// an upload.
pub trait Schema: sealed::Sealed {
    type Row: std::fmt::Debug;
    fn columns(&self) -> &'static [Column];
    #[doc(hidden)]
    fn parse_row(&self, cells: RowCells<'_>, problems: &mut Vec<Problem>) -> Option<Self::Row>;
    /// The key column's name (`sku`, `customer_number`).
    fn key_column(&self) -> &'static str {
        self.columns()[0].name
    }
}

const fn single_line(name: &'static str, max_chars: usize) -> TextColumn {
    TextColumn { name, max_chars, multiline: false }
}

const SKU: TextColumn = single_line("sku", 64);
const PRODUCT_NAME: TextColumn = single_line("name", 200);
const DESCRIPTION: TextColumn = TextColumn { name: "description", max_chars: 5_000, multiline: true };
const UNIT: TextColumn = single_line("unit", 64);
const CURRENCY: TextColumn = single_line("currency", 3);
const CATEGORY: TextColumn = single_line("category", 100);

const CUSTOMER_NUMBER: TextColumn = single_line("customer_number", 64);
const EMAIL: TextColumn = single_line("email", 254);
const CUSTOMER_NAME: TextColumn = single_line("name", 200);
const COMPANY: TextColumn = single_line("company", 200);
const PHONE: TextColumn = single_line("phone", 32);

const fn required(name: &'static str) -> Column {
    Column { name, required: true }
}
const fn optional(name: &'static str) -> Column {
    Column { name, required: false }
}

/// A catalogue upload, priced in the tenant's currency.
#[derive(Clone, Debug)]
pub struct Catalogue {
    currency: Currency,
}

impl Catalogue {
    pub fn new(tenant_currency: Currency) -> Self {
        Self { currency: tenant_currency }
    }
}

/// One product. Optional columns are `None` when the upload does not have them (or, for `stock`
/// and `active`, when the cell is empty), so a merge can keep what the store has; text that is
/// sent is kept even when empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    /// Minor units of `currency` (cents; yen for JPY).
    pub unit_price_minor: i64,
    /// The tenant's currency code (a row naming another currency is refused).
    pub currency: String,
    pub description: Option<String>,
    pub unit: Option<String>,
    pub stock: Option<i64>,
    pub active: Option<bool>,
    /// Not stored yet: `products` has no category column.
    pub category: Option<String>,
}

const CATALOGUE_COLUMNS: &[Column] = &[
    required("sku"),
    required("name"),
    required("price"),
    optional("description"),
    optional("unit"),
    optional("currency"),
    optional("stock"),
    optional("active"),
    optional("category"),
];

impl sealed::Sealed for Catalogue {}

impl Schema for Catalogue {
    type Row = ProductRow;

    fn columns(&self) -> &'static [Column] {
        CATALOGUE_COLUMNS
    }

    fn parse_row(&self, cells: RowCells<'_>, problems: &mut Vec<Problem>) -> Option<ProductRow> {
        let sku = required_text(cells.get(0), SKU, problems);
        let name = required_text(cells.get(1), PRODUCT_NAME, problems);
        let price = self.price(cells.get(2), problems);
        let description = optional_text(cells.get(3), DESCRIPTION, problems);
        let unit = optional_text(cells.get(4), UNIT, problems);
        self.check_currency(cells.get(5), problems);
        let stock = count(cells.get(6), "stock", problems);
        let active = flag(cells.get(7), "active", problems);
        let category = optional_text(cells.get(8), CATEGORY, problems);
        if !problems.is_empty() {
            return None;
        }
        Some(ProductRow {
            sku: sku?,
            name: name?,
            unit_price_minor: price?,
            currency: self.currency.code().to_owned(),
            description,
            unit,
            stock,
            active,
            category,
        })
    }
}

impl Catalogue {
    fn price(&self, cell: Cell<'_>, problems: &mut Vec<Problem>) -> Option<i64> {
        let parsed = match cell {
            Cell::Absent => Err("is missing".to_owned()),
            Cell::Text(t) => self.currency.parse_minor(t),
            // A JSON number arrives as the shortest text that reads back to it (12.5, 0.1).
            Cell::Number(n) => self.currency.parse_minor(&n.to_string()),
            Cell::Bool(_) | Cell::Other(_) => Err(format!("{} is not a number", shown(cell))),
        };
        parsed.map_err(|reason| problems.push(Problem::in_column("price", reason))).ok()
    }

    /// Prices are in the tenant's currency; orders total lines in one currency, so a row in
    /// another currency would be priced wrong, not converted.
    fn check_currency(&self, cell: Cell<'_>, problems: &mut Vec<Problem>) {
        match optional_text(cell, CURRENCY, problems) {
            Some(code) if !code.is_empty() && !code.eq_ignore_ascii_case(self.currency.code()) => problems.push(Problem::in_column(
                "currency",
                format!("{code:?} is not the tenant's currency {}; prices are in {}", self.currency, self.currency),
            )),
            _ => {}
        }
    }
}

/// A customer upload.
#[derive(Clone, Copy, Debug, Default)]
pub struct Customers;

/// One customer: `customer_number` is the tenant's own id (`customers.external_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerRow {
    pub customer_number: String,
    pub email: String,
    pub name: Option<String>,
    pub company: Option<String>,
    /// Not stored yet: `customers` has no phone column.
    pub phone: Option<String>,
}

const CUSTOMER_COLUMNS: &[Column] =
    &[required("customer_number"), required("email"), optional("name"), optional("company"), optional("phone")];

impl sealed::Sealed for Customers {}

impl Schema for Customers {
    type Row = CustomerRow;

    fn columns(&self) -> &'static [Column] {
        CUSTOMER_COLUMNS
    }

    fn parse_row(&self, cells: RowCells<'_>, problems: &mut Vec<Problem>) -> Option<CustomerRow> {
        let customer_number = required_text(cells.get(0), CUSTOMER_NUMBER, problems);
        let email = required_text(cells.get(1), EMAIL, problems);
        if let Some(address) = &email
            && !is_email(address)
        {
            problems.push(Problem::in_column("email", format!("{} is not an e-mail address", shown(Cell::Text(address)))));
        }
        let name = optional_text(cells.get(2), CUSTOMER_NAME, problems);
        let company = optional_text(cells.get(3), COMPANY, problems);
        let phone = optional_text(cells.get(4), PHONE, problems);
        if let Some(number) = phone.as_deref().filter(|p| !p.is_empty())
            && !is_phone(number)
        {
            problems.push(Problem::in_column("phone", format!("{} is not a phone number", shown(Cell::Text(number)))));
        }
        if !problems.is_empty() {
            return None;
        }
        Some(CustomerRow { customer_number: customer_number?, email: email?, name, company, phone })
    }
}
