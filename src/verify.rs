//! [`Verify`]: how a task's result is checked before it is accepted — replicas on distinct
//! providers that must agree, or adaptive spot checks on a trusted runner. Parsed from the
//! task's `"verify"` JSON field; every value is checked when parsed, so a malformed one is a
//! `400` naming what is wrong.

use serde::{Deserialize, Serialize};

/// The most replicas a task may ask for, extra ones included.
pub const MAX_REPLICAS: u32 = 16;

/// How many replicas beyond `replicas` a disagreement may add unless `max_replicas` says.
pub const EXTRA_REPLICAS: u32 = 2;

/// How a task's result is verified. Build it with [`Verify::replicas`] or
/// [`Verify::spot_check`]; in JSON it is `{"replicas": N, "quorum": Q, "max_replicas": M,
/// "trusted_alone": true}` (all but `replicas` optional) or `{"spot_check": F}`.
///
/// ```
/// use wasimoff::Verify;
/// let three = Verify::replicas(3).quorum(2);
/// assert_eq!(serde_json::to_string(&three).unwrap(), r#"{"replicas":3,"quorum":2,"max_replicas":5,"trusted_alone":true}"#);
/// let parsed: Verify = serde_json::from_str(r#"{"spot_check": 0.05}"#).unwrap();
/// assert_eq!(parsed, Verify::spot_check(0.05));
/// assert!(serde_json::from_str::<Verify>(r#"{"replicas": 2, "quorum": 3}"#).is_err());
/// ```
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(try_from = "VerifyFields", into = "VerifyFields")]
pub struct Verify(pub(crate) Plan);

/// What a [`Verify`] asks for, checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Plan {
    /// Run on `replicas` distinct providers; accept when `quorum` results agree, adding
    /// replicas up to `max_replicas` on disagreement.
    Replicas {
        /// Replicas started at once.
        replicas: u32,
        /// Agreeing results needed.
        quorum: u32,
        /// Replicas at most, extra ones included.
        max_replicas: u32,
        /// Whether a trusted provider's result is accepted by itself.
        trusted_alone: bool,
    },
    /// Re-run an untrusted provider's result on a trusted runner with a probability that
    /// starts from `rate` (see `scheduler::verify::check_probability`).
    SpotCheck {
        /// The nominal probability, 0 to 1.
        rate: f64,
    },
}

impl PartialEq for Verify {
    /// Equal when every field is; rates compare bit for bit (they are never NaN once checked).
    fn eq(&self, other: &Verify) -> bool {
        match (self.0, other.0) {
            (Plan::SpotCheck { rate: a }, Plan::SpotCheck { rate: b }) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
}

impl Eq for Verify {}

impl Verify {
    /// Run on `replicas` distinct providers and accept when all agree (set a smaller
    /// [`quorum`](Verify::quorum) to accept a majority); on disagreement up to two more
    /// replicas are added ([`max_replicas`](Verify::max_replicas)).
    pub fn replicas(replicas: u32) -> Verify {
        Verify(Plan::Replicas {
            replicas,
            quorum: replicas,
            max_replicas: replicas.saturating_add(EXTRA_REPLICAS).min(MAX_REPLICAS).max(replicas),
            trusted_alone: true,
        })
    }

    /// Sets how many agreeing results accept the task (replicas only; default all of them).
    pub fn quorum(mut self, value: u32) -> Verify {
        if let Plan::Replicas { quorum, .. } = &mut self.0 {
            *quorum = value;
        }
        self
    }

    /// Sets how many replicas a disagreement may grow to (replicas only; default replicas + 2).
    pub fn max_replicas(mut self, value: u32) -> Verify {
        if let Plan::Replicas { max_replicas, .. } = &mut self.0 {
            *max_replicas = value;
        }
        self
    }

    /// Sets whether a trusted provider's result is accepted by itself (replicas only;
    /// default yes).
    pub fn trusted_alone(mut self, value: bool) -> Verify {
        if let Plan::Replicas { trusted_alone, .. } = &mut self.0 {
            *trusted_alone = value;
        }
        self
    }

    /// Re-run an untrusted provider's result on a trusted runner with probability about
    /// `rate` (more for providers with little verified history, less for long clean ones).
    pub fn spot_check(rate: f64) -> Verify {
        Verify(Plan::SpotCheck { rate })
    }

    /// Why these values are unusable, if they are.
    pub fn check(&self) -> Result<(), String> {
        VerifyFields::from(*self).plan().map(|_| ())
    }
}

/// The JSON form: every field optional, checked by [`VerifyFields::plan`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quorum: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trusted_alone: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spot_check: Option<f64>,
}

impl VerifyFields {
    /// The plan these fields describe, or what is wrong with them.
    fn plan(&self) -> Result<Plan, String> {
        match (self.replicas, self.spot_check) {
            (Some(_), Some(_)) => Err("verify takes either replicas or spot_check, not both".into()),
            (None, None) => Err("verify needs replicas or spot_check".into()),
            (None, Some(rate)) => {
                if self.quorum.is_some() || self.max_replicas.is_some() || self.trusted_alone.is_some() {
                    return Err("verify.spot_check takes no quorum, max_replicas or trusted_alone".into());
                }
                if !(0.0..=1.0).contains(&rate) {
                    return Err(format!("verify.spot_check must be a probability from 0 to 1, not {rate}"));
                }
                Ok(Plan::SpotCheck { rate })
            }
            (Some(replicas), None) => {
                if !(1..=MAX_REPLICAS).contains(&replicas) {
                    return Err(format!("verify.replicas must be from 1 to {MAX_REPLICAS}, not {replicas}"));
                }
                let quorum = self.quorum.unwrap_or(replicas);
                if quorum > replicas || quorum * 2 <= replicas {
                    return Err(format!("verify.quorum must be a majority of the {replicas} replicas (at most {replicas}), not {quorum}"));
                }
                let max_replicas = self.max_replicas.unwrap_or_else(|| (replicas + EXTRA_REPLICAS).min(MAX_REPLICAS));
                if !(replicas..=MAX_REPLICAS).contains(&max_replicas) {
                    return Err(format!("verify.max_replicas must be from replicas ({replicas}) to {MAX_REPLICAS}, not {max_replicas}"));
                }
                Ok(Plan::Replicas { replicas, quorum, max_replicas, trusted_alone: self.trusted_alone.unwrap_or(true) })
            }
        }
    }
}

impl TryFrom<VerifyFields> for Verify {
    type Error = String;

    fn try_from(fields: VerifyFields) -> Result<Verify, String> {
        fields.plan().map(Verify)
    }
}

impl From<Verify> for VerifyFields {
    fn from(verify: Verify) -> VerifyFields {
        match verify.0 {
            Plan::Replicas { replicas, quorum, max_replicas, trusted_alone } => VerifyFields {
                replicas: Some(replicas),
                quorum: Some(quorum),
                max_replicas: Some(max_replicas),
                trusted_alone: Some(trusted_alone),
                spot_check: None,
            },
            Plan::SpotCheck { rate } => {
                VerifyFields { replicas: None, quorum: None, max_replicas: None, trusted_alone: None, spot_check: Some(rate) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Verify, String> {
        serde_json::from_str::<Verify>(json).map_err(|error| error.to_string())
    }

    #[test]
    fn replicas_default_to_a_full_quorum_and_two_extra() {
        assert_eq!(parse(r#"{"replicas": 2}"#), Ok(Verify::replicas(2)));
        assert_eq!(Verify::replicas(3).0, Plan::Replicas { replicas: 3, quorum: 3, max_replicas: 5, trusted_alone: true });
        assert_eq!(
            parse(r#"{"replicas": 3, "quorum": 2, "max_replicas": 7, "trusted_alone": false}"#),
            Ok(Verify::replicas(3).quorum(2).max_replicas(7).trusted_alone(false))
        );
        assert_eq!(Verify::replicas(16).0, Plan::Replicas { replicas: 16, quorum: 16, max_replicas: 16, trusted_alone: true });
    }

    #[test]
    fn malformed_values_say_what_is_wrong() {
        let cases = [
            (r#"{"replicas": 0}"#, "verify.replicas must be from 1 to 16, not 0"),
            (r#"{"replicas": 17}"#, "verify.replicas must be from 1 to 16, not 17"),
            (r#"{"replicas": 2, "quorum": 3}"#, "verify.quorum must be a majority of the 2 replicas (at most 2), not 3"),
            (r#"{"replicas": 4, "quorum": 2}"#, "verify.quorum must be a majority of the 4 replicas (at most 4), not 2"),
            (r#"{"replicas": 3, "max_replicas": 2}"#, "verify.max_replicas must be from replicas (3) to 16, not 2"),
            (r#"{"spot_check": 1.5}"#, "verify.spot_check must be a probability from 0 to 1, not 1.5"),
            (r#"{"spot_check": 0.1, "quorum": 1}"#, "verify.spot_check takes no quorum, max_replicas or trusted_alone"),
            (r#"{"replicas": 2, "spot_check": 0.1}"#, "verify takes either replicas or spot_check, not both"),
            (r#"{}"#, "verify needs replicas or spot_check"),
        ];
        for (json, reason) in cases {
            let error = parse(json).expect_err(json);
            assert!(error.starts_with(reason), "{json}: {error}");
        }
        assert!(parse(r#"{"replicas": -1}"#).is_err());
        assert!(parse(r#"{"copies": 2}"#).unwrap_err().contains("unknown field `copies`"));
        assert_eq!(Verify::spot_check(f64::NAN).check(), Err("verify.spot_check must be a probability from 0 to 1, not NaN".into()));
        assert_eq!(Verify::spot_check(0.25).check(), Ok(()));
    }
}
