//! What a caller of the verifier accepts: the setup policy today, passed explicitly to every
//! entry point (no global state, no environment variable), as a struct so that later options
//! join it without changing the entry points.

use crate::error::BundleError;
use zkattr_model::bundle::BundleManifest;

/// The `kzg_source` of development KZG parameters (generated from a public seed, so anyone can
/// forge a proof made under them) and of parameters read from a ceremony file: the names the
/// halo2 crate writes into bundles.
pub use zkattr_halo2::keys::{DEV_UNSAFE_SOURCE as DEV_UNSAFE_KZG, FILE_SOURCE as FILE_KZG};

/// Whether proofs made under an unsafe setup are accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SetupPolicy {
    /// Refuse them with [`BundleError::UnsafeSetup`] (the default).
    #[default]
    RequireSafe,
    /// Accept them (development and tests only; the caller should warn loudly).
    AllowUnsafe,
}

/// Options of every verifier entry point. `VerifyOptions::default()` is the strict setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// What to do with a proof made under an unsafe setup (`--allow-unsafe-setup`).
    pub setup: SetupPolicy,
}

impl VerifyOptions {
    /// The strict options: unsafe setups refused.
    pub fn strict() -> Self {
        Self::default()
    }

    /// These options with unsafe setups accepted when `allow` is true.
    pub fn allow_unsafe_setup(mut self, allow: bool) -> Self {
        self.setup = if allow {
            SetupPolicy::AllowUnsafe
        } else {
            SetupPolicy::RequireSafe
        };
        self
    }

    /// The setup `manifest` declares, refused if unsafe and these options do not allow it.
    /// Runs before any file but the manifest is read.
    pub fn check_setup(&self, manifest: &BundleManifest) -> Result<Setup, BundleError> {
        let setup = Setup::of(manifest)?;
        if let Setup::Unsafe { source } = &setup {
            if self.setup == SetupPolicy::RequireSafe {
                return Err(BundleError::UnsafeSetup {
                    setup: source.clone(),
                });
            }
        }
        Ok(setup)
    }
}

/// The setup a bundle's proof was made under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setup {
    /// No trusted setup (plonky2: FRI over hashes).
    Transparent,
    /// A setup whose secret nobody is known to hold (KZG parameters from a ceremony file).
    Ceremony { source: String },
    /// A setup whose secret is public: proofs under it convince no one else.
    Unsafe { source: String },
}

impl Setup {
    /// The setup `manifest` declares; an unknown or missing declaration is an error.
    pub fn of(manifest: &BundleManifest) -> Result<Self, BundleError> {
        match manifest.backend.as_str() {
            "plonky2" => Ok(Setup::Transparent),
            "halo2" => {
                let section = manifest.halo2.as_ref().ok_or_else(|| {
                    BundleError::Manifest("a halo2 bundle needs its \"halo2\" section".into())
                })?;
                Self::of_kzg_source(&section.kzg_source)
            }
            other => Err(BundleError::Backend(other.into())),
        }
    }

    /// The setup of KZG parameters from `source` (a bundle's `kzg_source`).
    pub fn of_kzg_source(source: &str) -> Result<Self, BundleError> {
        match source {
            DEV_UNSAFE_KZG => Ok(Setup::Unsafe {
                source: source.into(),
            }),
            FILE_KZG => Ok(Setup::Ceremony {
                source: source.into(),
            }),
            other => Err(BundleError::Params(format!(
                "unknown parameter source {other:?}"
            ))),
        }
    }

    /// The setup's name: its source, or empty for no setup.
    pub fn name(&self) -> &str {
        match self {
            Setup::Transparent => "",
            Setup::Ceremony { source } | Setup::Unsafe { source } => source,
        }
    }

    /// True for a setup whose secret is public.
    pub fn is_unsafe(&self) -> bool {
        matches!(self, Setup::Unsafe { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkattr_model::bundle::{BundleShape, Halo2Section, PublicStatement, BUNDLE_VERSION};
    use zkattr_model::PayoutReport;

    fn manifest(backend: &str, kzg_source: Option<&str>) -> BundleManifest {
        let payouts = PayoutReport {
            epoch_id: 1,
            rate_bps: 0,
            n_queries: 0,
            activation_commitment: String::new(),
            influence_commitment: String::new(),
            total_pool: 0,
            total_paid: 0,
            treasury: 0,
            n_payees: 0,
            payout_commitment: String::new(),
            family: String::new(),
            payouts: vec![],
        };
        BundleManifest {
            version: BUNDLE_VERSION,
            backend: backend.into(),
            shape: BundleShape {
                queries: 16,
                payees: 16,
                aggregation: None,
            },
            verifying_key_digest: String::new(),
            proof_file: "proof.bin".into(),
            verifying_key_file: "vk.bin".into(),
            public_inputs: PublicStatement::from_report(&payouts),
            payouts,
            prove_seconds: 0.0,
            halo2: kzg_source.map(|source| Halo2Section {
                circuit_params: serde_json::Value::Null,
                kzg_k: 15,
                kzg_source: source.into(),
                kzg_sha256: String::new(),
            }),
        }
    }

    #[test]
    fn the_default_refuses_an_unsafe_setup_and_the_option_accepts_it() {
        let dev = manifest("halo2", Some(DEV_UNSAFE_KZG));
        let e = VerifyOptions::default().check_setup(&dev).unwrap_err();
        assert!(
            matches!(&e, BundleError::UnsafeSetup { setup } if setup == DEV_UNSAFE_KZG),
            "{e}"
        );
        assert!(e.to_string().contains("--allow-unsafe-setup"), "{e}");
        let allowed = VerifyOptions::strict().allow_unsafe_setup(true);
        assert!(allowed.check_setup(&dev).unwrap().is_unsafe());
        // Allowing, then taking it back, is strict again.
        assert!(allowed.allow_unsafe_setup(false).check_setup(&dev).is_err());
    }

    #[test]
    fn safe_setups_pass_and_undeclared_ones_are_refused() {
        let strict = VerifyOptions::strict();
        assert_eq!(
            strict.check_setup(&manifest("plonky2", None)).unwrap(),
            Setup::Transparent
        );
        assert_eq!(
            strict
                .check_setup(&manifest("halo2", Some(FILE_KZG)))
                .unwrap(),
            Setup::Ceremony {
                source: FILE_KZG.into()
            }
        );
        for (backend, source) in [("halo2", None), ("halo2", Some("mine")), ("groth16", None)] {
            let allowed = VerifyOptions::strict().allow_unsafe_setup(true);
            assert!(
                allowed.check_setup(&manifest(backend, source)).is_err(),
                "{backend} {source:?}"
            );
        }
    }
}
