//! JSON uploads: one array of objects with the CSV's column names as keys, read one element at a
//! time (a streaming visitor over `serde_json`'s reader; the array is never held whole).

use std::fmt;
use std::io::{BufReader, Read};

use serde::Deserializer as _;
use serde::de::{self, SeqAccess, Visitor};
use serde_json::Value;

use crate::ImportError;
use crate::fields::Cell;
use crate::pipeline::{Collector, Halt};
use crate::report::{Problem, RowLocation};
use crate::schema::Schema;
use crate::source::Tracked;

pub(crate) fn read<R: Read, S: Schema>(source: &mut Tracked<R>, collector: &mut Collector<'_, S>) -> Result<(), Halt> {
    // serde_json reads byte by byte from its reader: the buffer keeps that off the source.
    let mut json = serde_json::Deserializer::from_reader(BufReader::new(source));
    let mut halted = None;
    let mut saw_array = false;
    let outcome = json.deserialize_seq(Elements { collector, halted: &mut halted, saw_array: &mut saw_array }).and_then(|()| json.end());
    let Err(err) = outcome else { return Ok(()) };
    if let Some(halt) = halted {
        return Err(halt);
    }
    if err.is_io() {
        return Err(Halt::Io(err.into()));
    }
    let message = err.to_string();
    let message = message.split(" at line ").next().unwrap_or_default().to_owned();
    if !saw_array && err.is_data() {
        return Err(ImportError::NotJsonArray(message).into());
    }
    if err.is_eof() && !saw_array {
        return Err(ImportError::NotJsonArray(message).into());
    }
    Err(ImportError::MalformedJson { line: err.line(), column: err.column(), message }.into())
}

struct Elements<'r, 'c, 's, S: Schema> {
    collector: &'c mut Collector<'s, S>,
    halted: &'r mut Option<Halt>,
    saw_array: &'r mut bool,
}

impl<'de, S: Schema> Visitor<'de> for Elements<'_, '_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.saw_array = true;
        let mut index = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            if let Err(halt) = element(self.collector, RowLocation::Index(index), &value) {
                *self.halted = Some(halt);
                return Err(de::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(())
    }
}

fn element<S: Schema>(collector: &mut Collector<'_, S>, at: RowLocation, value: &Value) -> Result<(), Halt> {
    let Value::Object(object) = value else {
        return collector.bad_row(at, None, Problem::row(format!("is {}, not an object", kind(value))));
    };
    let columns = collector.schema().columns();
    let mut cells = vec![Cell::Absent; columns.len()];
    for (key, value) in object {
        let key = key.trim();
        match columns.iter().position(|c| c.name.eq_ignore_ascii_case(key)) {
            Some(c) => cells[c] = cell(value),
            None => collector.note_unknown_column(&key.to_lowercase()),
        }
    }
    collector.row(at, &cells)
}

fn cell(value: &Value) -> Cell<'_> {
    match value {
        Value::Null => Cell::Absent,
        Value::String(s) => Cell::Text(s.trim()),
        Value::Number(n) => Cell::Number(n),
        Value::Bool(b) => Cell::Bool(*b),
        Value::Array(_) => Cell::Other("an array"),
        Value::Object(_) => Cell::Other("an object"),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "true/false",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
