//! Structs read from a JSON object only. Serde's derived `Deserialize` also fills a struct
//! from a sequence by field order, so `["user", "hi"]` or `[]` would pass for an object; API
//! bodies document objects, and anything else must be a 422, not a silently reset field.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor, value::MapAccessDeserializer};

/// Deserializes `T` (usually a derived struct) from a map only; `expecting` names what the
/// error says was wanted.
pub fn deserialize_object<'de, D, T>(deserializer: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectOnly<T>(&'static str, PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(ObjectOnly(expecting, PhantomData))
}

/// A `T` that must have been a JSON object: for fields and elements (`Vec<Object<T>>`,
/// `Option<Object<T>>`) where writing a `Deserialize` impl per type would repeat this one.
#[derive(Clone, Debug, PartialEq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_object(deserializer, "a JSON object").map(Self)
    }
}
