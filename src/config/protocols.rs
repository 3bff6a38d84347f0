//! `[protocols]` of `routing.toml`: the network behind a transport or a
//! remote domain, as the admin knows it. It overrides what the domain's
//! disco identity says, and fills in for domains that say nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::agents::PROTOCOLS;
use super::parse::validate_domain;
use super::problem::{LineIndex, Problem};

/// What the admin says about one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolOverride {
    /// One of [`PROTOCOLS`].
    pub protocol: String,
    /// The longest message the channel carries, in characters (an SMS
    /// gateway's segment limit, an IRC line), if it has one.
    pub max_length: Option<u32>,
}

const MAX_LENGTH: std::ops::RangeInclusive<i64> = 1..=100_000;

/// Validated overrides by lowercase domain; bad entries are left out.
pub(super) fn parse(
    lines: &LineIndex,
    raw: &BTreeMap<String, Spanned<RawProtocol>>,
    support_domain: &str,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, ProtocolOverride> {
    let mut out = BTreeMap::new();
    for (domain, value) in raw {
        let name = domain.to_ascii_lowercase();
        let mut ok = true;
        if let Err(msg) = validate_domain(&name) {
            ok = false;
            problems.push(lines.problem(value, &format!("[protocols]: {msg}")));
        } else if name == support_domain {
            ok = false;
            problems.push(lines.problem(
                value,
                &format!("[protocols]: '{name}' is the support domain, not a customer's"),
            ));
        } else if out.contains_key(&name) {
            ok = false;
            problems.push(lines.problem(
                value,
                &format!("[protocols]: '{name}' is given twice (in another case)"),
            ));
        }
        let (protocol, max_length) = match value.get_ref() {
            RawProtocol::Name(p) => (Spanned::new(value.span(), p.clone()), None),
            RawProtocol::Table {
                protocol,
                max_length,
            } => (protocol.clone(), max_length.as_ref()),
        };
        if !PROTOCOLS.contains(&protocol.get_ref().as_str()) {
            ok = false;
            problems.push(lines.problem(
                &protocol,
                &format!(
                    "[protocols] \"{domain}\": unknown protocol '{}': use {}",
                    protocol.get_ref(),
                    PROTOCOLS.join(", ")
                ),
            ));
        }
        let max_length = max_length.map(|m| {
            if !MAX_LENGTH.contains(m.get_ref()) {
                ok = false;
                problems.push(lines.problem(
                    m,
                    &format!(
                        "max_length must be between {} and {}",
                        MAX_LENGTH.start(),
                        MAX_LENGTH.end()
                    ),
                ));
            }
            (*m.get_ref()).clamp(*MAX_LENGTH.start(), *MAX_LENGTH.end()) as u32
        });
        if ok {
            out.insert(
                name,
                ProtocolOverride {
                    protocol: protocol.into_inner(),
                    max_length,
                },
            );
        }
    }
    out
}

/// `"sms"`, or `{ protocol = "sms", max_length = 160 }`.
#[derive(Debug)]
pub(super) enum RawProtocol {
    Name(String),
    Table {
        protocol: Spanned<String>,
        max_length: Option<Spanned<i64>>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    protocol: Spanned<String>,
    max_length: Option<Spanned<i64>>,
}

impl<'de> Deserialize<'de> for RawProtocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawProtocol;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a protocol name or a table { protocol = ..., max_length = ... }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawProtocol, E> {
                Ok(RawProtocol::Name(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawProtocol, A::Error> {
                // Through the TOML map itself, so that the fields keep
                // their spans.
                let t = RawTable::deserialize(MapAccessDeserializer::new(map))?;
                Ok(RawProtocol::Table {
                    protocol: t.protocol,
                    max_length: t.max_length,
                })
            }
        }
        d.deserialize_any(V)
    }
}
