//! Route path patterns: literal segments, `{param}` segments, OData key segments
//! (`organizations({id})`) and parameters with a literal suffix (`{id}.json`), checked when
//! the file is loaded and matched against a request's decoded segments.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A path with literal and `{param}` segments.
#[derive(Debug, Clone)]
pub(crate) struct PathPattern {
    pub source: String,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
    /// An OData key segment, `organizations({id})`: the literal prefix, then the parameter
    /// inside parentheses.
    Keyed(String, String),
    /// A parameter followed by a literal suffix, `{companyId}.json` (Teamwork): the name,
    /// then the suffix.
    Suffixed(String, String),
}

impl PathPattern {
    pub(crate) fn parse(source: &str) -> Result<Self, String> {
        if !source.starts_with('/') {
            return Err(format!("path `{source}` must start with `/`"));
        }
        let mut segments = Vec::new();
        for part in source.split('/').skip(1) {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(format!("invalid parameter `{part}` in path `{source}`"));
                }
                segments.push(Segment::Param(name.to_owned()));
            } else if let Some((prefix, name)) =
                part.strip_suffix("})")
                    .and_then(|p| p.split_once("({"))
                    .filter(|(prefix, name)| {
                        !prefix.is_empty()
                            && !prefix.contains(['{', '}', '(', ')'])
                            && !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
            {
                segments.push(Segment::Keyed(prefix.to_owned(), name.to_owned()));
            } else if let Some((name, suffix)) =
                part.strip_prefix('{')
                    .and_then(|p| p.split_once('}'))
                    .filter(|(name, suffix)| {
                        !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && !suffix.is_empty()
                            && !suffix.contains(['{', '}'])
                    })
            {
                segments.push(Segment::Suffixed(name.to_owned(), suffix.to_owned()));
            } else if part.contains('{') || part.contains('}') {
                return Err(format!("a parameter must be a whole segment: `{part}` in `{source}`"));
            } else {
                segments.push(Segment::Literal(part.to_owned()));
            }
        }
        Ok(PathPattern {
            source: source.to_owned(),
            segments,
        })
    }

    pub(crate) fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(p) | Segment::Keyed(_, p) | Segment::Suffixed(p, _) => Some(p.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Matches already split, percent-decoded path segments.
    pub(crate) fn matches(&self, parts: &[String]) -> Option<Map<String, Value>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Map::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), Value::String(part.clone()));
                }
                Segment::Keyed(prefix, name) => {
                    let key = part
                        .strip_prefix(prefix.as_str())
                        .and_then(|p| p.strip_prefix('('))
                        .and_then(|p| p.strip_suffix(')'))
                        .filter(|k| !k.is_empty())?;
                    params.insert(name.clone(), Value::String(key.to_owned()));
                }
                Segment::Suffixed(name, suffix) => {
                    let key = part.strip_suffix(suffix.as_str()).filter(|k| !k.is_empty())?;
                    params.insert(name.clone(), Value::String(key.to_owned()));
                }
            }
        }
        Some(params)
    }
}

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PathPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_reject_partial_parameters() {
        assert!(PathPattern::parse("/orgs/x{id}").is_err());
        assert!(PathPattern::parse("orgs").is_err());
        let p = PathPattern::parse("/orgs/{org}/members").expect("valid");
        let parts: Vec<String> = ["orgs", "acme", "members"].iter().map(|s| s.to_string()).collect();
        assert_eq!(p.matches(&parts).expect("match")["org"], "acme");
    }

    #[test]
    fn odata_key_segments_capture_the_key_in_parentheses() {
        let p = PathPattern::parse("/organizations({organizationid})").expect("valid");
        let parts = |s: &str| vec![s.to_string()];
        assert_eq!(
            p.matches(&parts("organizations(0a1b-2c)")).expect("match")["organizationid"],
            "0a1b-2c"
        );
        assert!(p.matches(&parts("organizations()")).is_none());
        assert!(p.matches(&parts("organizations")).is_none());
        assert!(p.matches(&parts("accounts(1)")).is_none());
        assert!(PathPattern::parse("/({id})").is_err());
        assert_eq!(p.params().collect::<Vec<_>>(), ["organizationid"]);
    }

    #[test]
    fn a_parameter_may_carry_a_literal_suffix() {
        let p = PathPattern::parse("/companies/{companyId}.json").expect("valid");
        let parts = |s: &str| vec!["companies".to_string(), s.to_string()];
        assert_eq!(p.matches(&parts("999.json")).expect("match")["companyId"], "999");
        assert!(p.matches(&parts(".json")).is_none());
        assert!(p.matches(&parts("999")).is_none());
        assert!(PathPattern::parse("/companies/{id}.{x}").is_err());
        assert_eq!(p.params().collect::<Vec<_>>(), ["companyId"]);
    }
}
