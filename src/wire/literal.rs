//! Fields whose value is fixed by the type they sit in (`"success": true`,
//! `"state": "queued"`): they serialise as that value and deserialise only
//! from it, so an untagged enum of shapes picks the right one.

macro_rules! literal {
    ($(#[$doc:meta])* $name:ident: $ty:ty = $value:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&$value, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <$ty as serde::Deserialize>::deserialize(deserializer)?;
                if value == $value {
                    Ok($name)
                } else {
                    Err(serde::de::Error::custom(format_args!("expected {:?}", $value)))
                }
            }
        }
    };
}

literal!(
    /// `"success": true`, in every successful reply.
    Success: bool = true
);
literal!(
    /// `"success": false`, in every error reply.
    Failure: bool = false
);
literal!(
    /// `"state": "queued"`.
    QueuedState: String = "queued"
);
literal!(
    /// `"state": "running"`.
    RunningState: String = "running"
);
literal!(
    /// `"state": "done"`, for every outcome.
    Done: String = "done"
);
literal!(
    /// `"kind": "user"` in [`super::Access`].
    UserKind: String = "user"
);
literal!(
    /// `"kind": "guest"` in [`super::Access`].
    GuestKind: String = "guest"
);
literal!(
    /// `"kind": "person"` in [`super::Access`].
    PersonKind: String = "person"
);
