//! The text values of the identity domain and their rules: identity
//! names, organization paths and attribute labels.
//!
//! On chain these are stored exactly as written and must already be in
//! their canonical (lowercase) form: uniqueness is then plain byte
//! equality, which makes it case-insensitive. The `parse` constructors
//! lowercase what a user typed before checking it; the stateless rules
//! (`check`) refuse anything that is not canonical.

use std::fmt;

use thiserror::Error;

/// Shortest identity name (and organization path segment).
pub const NAME_MIN_LEN: usize = 3;
/// Longest identity name (and organization path segment).
pub const NAME_MAX_LEN: usize = 32;
/// Most segments of an organization path (`top.sub.subsub…`).
pub const ORGANIZATION_MAX_DEPTH: usize = 8;
/// Longest organization path, dots included.
pub const ORGANIZATION_PATH_MAX_LEN: usize = 150;
/// Longest attribute label.
pub const LABEL_MAX_LEN: usize = 64;

/// Why a name, path or label breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("{what} {text:?} has {length} bytes; it must have {min} to {max}")]
    Length {
        what: &'static str,
        text: String,
        length: usize,
        min: usize,
        max: usize,
    },
    #[error(
        "{what} {text:?} has {character:?} at byte {index}; only lowercase ASCII letters, digits{extra} are allowed"
    )]
    Character {
        what: &'static str,
        text: String,
        character: char,
        index: usize,
        extra: &'static str,
    },
    #[error("{what} {text:?} must start with a lowercase letter")]
    Start { what: &'static str, text: String },
    #[error("{what} {text:?} must not end with {last:?}")]
    End {
        what: &'static str,
        text: String,
        last: char,
    },
    #[error("organization path {text:?} has {depth} segments; at most {ORGANIZATION_MAX_DEPTH}")]
    TooDeep { text: String, depth: usize },
}

/// Checks one name or path segment: `NAME_MIN_LEN..=NAME_MAX_LEN` bytes
/// of `[a-z0-9-]`, starting with a letter and not ending with `-`.
fn check_segment(what: &'static str, text: &str, whole: &str) -> Result<(), NameError> {
    let length = text.len();
    if !(NAME_MIN_LEN..=NAME_MAX_LEN).contains(&length) {
        return Err(NameError::Length {
            what,
            text: whole.to_owned(),
            length,
            min: NAME_MIN_LEN,
            max: NAME_MAX_LEN,
        });
    }
    check_characters(what, text, whole, " and '-'", |c| c == '-')?;
    if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(NameError::Start {
            what,
            text: whole.to_owned(),
        });
    }
    if text.ends_with('-') {
        return Err(NameError::End {
            what,
            text: whole.to_owned(),
            last: '-',
        });
    }
    Ok(())
}

fn check_characters(
    what: &'static str,
    text: &str,
    whole: &str,
    extra: &'static str,
    allowed_extra: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    // `text` is a slice of `whole`: report positions within `whole`.
    let offset = (text.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    for (index, character) in text.char_indices() {
        let allowed = character.is_ascii_lowercase()
            || character.is_ascii_digit()
            || allowed_extra(character);
        if !allowed {
            return Err(NameError::Character {
                what,
                text: whole.to_owned(),
                character,
                index: offset + index,
                extra,
            });
        }
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bincode::Encode, bincode::Decode,
        )]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

text_newtype!(
    /// An identity's unique name: 3–32 bytes of `[a-z0-9-]`, starting with
    /// a letter, not ending with `-`. No dots (those separate organization
    /// path segments).
    IdentityName
);
text_newtype!(
    /// An organization's unique path: one to eight segments joined by
    /// `.`, each following the identity-name rule, at most 150 bytes.
    /// `acme.sales` is the sub-organization `sales` of `acme`.
    OrganizationPath
);
text_newtype!(
    /// An attribute's label, e.g. `email`, `email:work`, `ssh.laptop`:
    /// 1–64 bytes of `[a-z0-9._:-]` starting with a letter.
    AttributeLabel
);

impl IdentityName {
    /// A name from user input: ASCII-lowercased, then checked.
    pub fn parse(text: &str) -> Result<IdentityName, NameError> {
        let name = IdentityName(text.to_ascii_lowercase());
        name.check()?;
        Ok(name)
    }

    /// The on-chain rule: canonical (lowercase) and well formed.
    pub fn check(&self) -> Result<(), NameError> {
        check_segment("identity name", &self.0, &self.0)
    }
}

impl OrganizationPath {
    /// A path from user input: ASCII-lowercased, then checked.
    pub fn parse(text: &str) -> Result<OrganizationPath, NameError> {
        let path = OrganizationPath(text.to_ascii_lowercase());
        path.check()?;
        Ok(path)
    }

    /// The on-chain rule.
    pub fn check(&self) -> Result<(), NameError> {
        let length = self.0.len();
        if !(NAME_MIN_LEN..=ORGANIZATION_PATH_MAX_LEN).contains(&length) {
            return Err(NameError::Length {
                what: "organization path",
                text: self.0.clone(),
                length,
                min: NAME_MIN_LEN,
                max: ORGANIZATION_PATH_MAX_LEN,
            });
        }
        let depth = self.0.split('.').count();
        if depth > ORGANIZATION_MAX_DEPTH {
            return Err(NameError::TooDeep {
                text: self.0.clone(),
                depth,
            });
        }
        for segment in self.0.split('.') {
            check_segment("organization path", segment, &self.0)?;
        }
        Ok(())
    }

    /// The parent organization's path (`acme` for `acme.sales`), or
    /// `None` for a top-level organization.
    pub fn parent(&self) -> Option<OrganizationPath> {
        self.0
            .rsplit_once('.')
            .map(|(parent, _)| OrganizationPath(parent.to_owned()))
    }

    /// Number of segments (1 for a top-level organization).
    pub fn depth(&self) -> usize {
        self.0.split('.').count()
    }
}

impl AttributeLabel {
    /// A label from user input: ASCII-lowercased, then checked.
    pub fn parse(text: &str) -> Result<AttributeLabel, NameError> {
        let label = AttributeLabel(text.to_ascii_lowercase());
        label.check()?;
        Ok(label)
    }

    /// The on-chain rule.
    pub fn check(&self) -> Result<(), NameError> {
        let length = self.0.len();
        if !(1..=LABEL_MAX_LEN).contains(&length) {
            return Err(NameError::Length {
                what: "attribute label",
                text: self.0.clone(),
                length,
                min: 1,
                max: LABEL_MAX_LEN,
            });
        }
        check_characters(
            "attribute label",
            &self.0,
            &self.0,
            " and '.', '_', ':', '-'",
            |c| matches!(c, '.' | '_' | ':' | '-'),
        )?;
        if !self.0.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(NameError::Start {
                what: "attribute label",
                text: self.0.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_names() {
        assert_eq!(IdentityName::parse("Alice").unwrap().as_str(), "alice");
        assert!(IdentityName("alice-2".into()).check().is_ok());
        assert!(matches!(
            IdentityName("Alice".into()).check(),
            Err(NameError::Character {
                character: 'A',
                index: 0,
                ..
            })
        ));
        assert!(matches!(
            IdentityName("al".into()).check(),
            Err(NameError::Length { length: 2, .. })
        ));
        assert!(matches!(
            IdentityName("a".repeat(33)).check(),
            Err(NameError::Length { length: 33, .. })
        ));
        assert!(matches!(
            IdentityName("2pac".into()).check(),
            Err(NameError::Start { .. })
        ));
        assert!(matches!(
            IdentityName("bob-".into()).check(),
            Err(NameError::End { last: '-', .. })
        ));
        assert!(matches!(
            IdentityName("a.b.c".into()).check(),
            Err(NameError::Character { character: '.', .. })
        ));
        assert!(matches!(
            IdentityName("zoë".into()).check(),
            Err(NameError::Character {
                character: 'ë',
                index: 2,
                ..
            })
        ));
        assert!(IdentityName::parse("ÉLAN").is_err());
    }

    #[test]
    fn organization_paths() {
        let path = OrganizationPath::parse("Acme.Sales").unwrap();
        assert_eq!(path.as_str(), "acme.sales");
        assert_eq!(path.parent(), Some(OrganizationPath("acme".into())));
        assert_eq!(path.depth(), 2);
        assert_eq!(OrganizationPath("acme".into()).parent(), None);
        assert!(matches!(
            OrganizationPath("acme..sales".into()).check(),
            Err(NameError::Length { length: 0, .. })
        ));
        assert!(matches!(
            OrganizationPath("acme.x".into()).check(),
            Err(NameError::Length { length: 1, .. })
        ));
        let deep = ["abc"; 9].join(".");
        assert!(matches!(
            OrganizationPath(deep).check(),
            Err(NameError::TooDeep { depth: 9, .. })
        ));
        let long = [
            "a".repeat(30),
            "a".repeat(30),
            "a".repeat(30),
            "a".repeat(30),
            "a".repeat(30),
        ]
        .join(".");
        assert!(matches!(
            OrganizationPath(long).check(),
            Err(NameError::Length { length: 154, .. })
        ));
        assert!(matches!(
            OrganizationPath("acme.Sales".into()).check(),
            Err(NameError::Character {
                character: 'S',
                index: 5,
                ..
            })
        ));
    }

    #[test]
    fn attribute_labels() {
        for good in ["email", "email:work", "ssh.laptop", "phone_2", "a"] {
            assert!(AttributeLabel(good.into()).check().is_ok(), "{good}");
        }
        assert!(matches!(
            AttributeLabel(String::new()).check(),
            Err(NameError::Length { length: 0, .. })
        ));
        assert!(matches!(
            AttributeLabel("e mail".into()).check(),
            Err(NameError::Character { character: ' ', .. })
        ));
        assert!(matches!(
            AttributeLabel(":x".into()).check(),
            Err(NameError::Start { .. })
        ));
        assert!(matches!(
            AttributeLabel("x".repeat(65)).check(),
            Err(NameError::Length { length: 65, .. })
        ));
    }
}
