//! The kind of an event, read from serde itself, so the `#[serde(tag)]`
//! derive is the only place a kind's name is spelled: [`variants`] asks a
//! type's `Deserialize` which tags it accepts, [`tag_of`] asks a value's
//! `Serialize` which tag it writes. Both stop at the tag, so asking costs
//! no more than a few string comparisons.

use std::fmt;

use serde::de::{self, Deserialize};
use serde::ser::{self, Impossible, Serialize};

/// Every tag an internally tagged enum `T` (tag field `tag`) accepts, in
/// declaration order; empty when `T` is not such an enum.
pub fn variants<'de, T: Deserialize<'de>>(tag: &'static str) -> &'static [&'static str] {
    // A map whose tag names no variant: the derive answers with the list
    // of the ones it knows, through `unknown_variant`.
    let probe = de::value::MapDeserializer::<_, Listed>::new(std::iter::once((tag, "")));
    match T::deserialize(probe) {
        Err(Listed(Some(names))) => names,
        _ => &[],
    }
}

/// The error [`variants`] reads the list from.
#[derive(Debug)]
struct Listed(Option<&'static [&'static str]>);

impl fmt::Display for Listed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an internally tagged enum")
    }
}

impl std::error::Error for Listed {}

impl de::Error for Listed {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Listed(None)
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Listed(Some(expected))
    }
}

/// The tag `value` is serialized under, as its entry in `names`; `None`
/// when `value` is not a struct whose first field is `tag`.
pub fn tag_of<T: Serialize + ?Sized>(
    value: &T,
    tag: &'static str,
    names: &'static [&'static str],
) -> Option<&'static str> {
    let probe = TagProbe {
        tag,
        names,
        in_tag: false,
    };
    match value.serialize(probe) {
        Err(Found(found)) => found,
        Ok(()) => None,
    }
}

/// Stops the serialization at the tag, carrying its name (or nothing).
#[derive(Debug)]
struct Found(Option<&'static str>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tag probe done")
    }
}

impl std::error::Error for Found {}

impl ser::Error for Found {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Found(None)
    }
}

/// A serializer that accepts one struct, reads its `tag` field and stops.
struct TagProbe {
    tag: &'static str,
    names: &'static [&'static str],
    /// Set for the tag field's value, the one string that is read.
    in_tag: bool,
}

/// Refuses every shape but the ones the probe reads.
macro_rules! not_the_tag {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $ty),*) -> Result<(), Found> {
            Err(Found(None))
        })*
    };
}

impl ser::Serializer for TagProbe {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Impossible<(), Found>;
    type SerializeTuple = Impossible<(), Found>;
    type SerializeTupleStruct = Impossible<(), Found>;
    type SerializeTupleVariant = Impossible<(), Found>;
    type SerializeMap = Impossible<(), Found>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Found>;

    fn serialize_str(self, value: &str) -> Result<(), Found> {
        let names = if self.in_tag { self.names } else { &[] };
        Err(Found(names.iter().find(|name| **name == value).copied()))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Found> {
        match self.in_tag {
            false => Ok(self),
            true => Err(Found(None)),
        }
    }

    not_the_tag!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<V: Serialize + ?Sized>(self, _: &V) -> Result<(), Found> {
        Err(Found(None))
    }

    fn serialize_newtype_struct<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &V,
    ) -> Result<(), Found> {
        Err(Found(None))
    }

    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<(), Found> {
        Err(Found(None))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Found> {
        Err(Found(None))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Found> {
        Err(Found(None))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Found> {
        Err(Found(None))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Found> {
        Err(Found(None))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Found> {
        Err(Found(None))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Found> {
        Err(Found(None))
    }
}

impl ser::SerializeStruct for TagProbe {
    type Ok = ();
    type Error = Found;

    fn serialize_field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), Found> {
        // The derive writes an internally tagged variant's tag first.
        if key != self.tag {
            return Err(Found(None));
        }
        value.serialize(TagProbe {
            tag: self.tag,
            names: self.names,
            in_tag: true,
        })
    }

    fn end(self) -> Result<(), Found> {
        Err(Found(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type")]
    enum Shape {
        Circle {
            r: f64,
        },
        #[serde(rename = "box")]
        Square {
            side: f64,
        },
        Dot {},
    }

    #[derive(Serialize, Deserialize)]
    struct Plain {
        r: f64,
    }

    #[test]
    fn the_tags_come_from_the_derive_renames_included() {
        let names = variants::<Shape>("type");
        assert_eq!(names, ["Circle", "box", "Dot"]);
        for (shape, tag) in [
            (Shape::Circle { r: 1.0 }, "Circle"),
            (Shape::Square { side: 2.0 }, "box"),
            (Shape::Dot {}, "Dot"),
        ] {
            assert_eq!(tag_of(&shape, "type", names), Some(tag));
        }
    }

    #[test]
    fn anything_else_has_no_tag() {
        assert!(variants::<Plain>("type").is_empty());
        assert!(variants::<Shape>("kind").is_empty(), "wrong tag field");
        let names = variants::<Shape>("type");
        assert_eq!(tag_of(&Plain { r: 1.0 }, "type", names), None);
        assert_eq!(tag_of(&Shape::Dot {}, "kind", names), None);
        assert_eq!(tag_of(&"Circle", "type", names), None);
    }
}
