//! The server's own certificates, made on the first TLS start: a root CA
//! (self-signed, CA:true) and a server certificate signed by it, kept
//! under `<storage>/tls/` and reused later. A chain of two ending in a
//! self-signed root is what the original PHP SDK's GetSSLInfo() expects:
//! it saves the root as its CA and pins the leaf.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::Datelike;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// Common name of the generated root (also how its DN is rebuilt to sign).
const ROOT_NAME: &str = "scriptd root CA";
/// Years the generated certificates stay valid.
const ROOT_YEARS: i32 = 20;
const LEAF_YEARS: i32 = 10;

/// Why the certificates could not be made or stored.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The files of `<storage>/tls/`.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The root certificate (what clients trust, `--ca`).
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    /// The server's chain: leaf, then root.
    pub chain: PathBuf,
    pub key: PathBuf,
    /// The names the leaf was issued for, one per line.
    names: PathBuf,
}

impl Generated {
    /// The file layout under `dir`.
    pub fn at(dir: &Path) -> Self {
        Generated {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            chain: dir.join("server.pem"),
            key: dir.join("server.key"),
            names: dir.join("server.names"),
        }
    }
}

/// Makes (or reuses) the root and a server certificate for `names` under
/// `dir`. The root is made once; the leaf is re-issued by that same root
/// only when the names it must cover changed.
pub fn ensure(dir: &Path, names: &[String]) -> Result<Generated, CertError> {
    let files = Generated::at(dir);
    fs::create_dir_all(dir).map_err(|source| CertError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let wanted = names.join("\n");
    let (ca_pem, ca_key) = match (read(&files.ca_cert), read(&files.ca_key)) {
        (Ok(cert), Ok(key)) => (cert, KeyPair::from_pem(&key)?),
        _ => {
            let key = KeyPair::generate()?;
            let cert = root_params()?.self_signed(&key)?;
            write_private(&files.ca_key, &key.serialize_pem())?;
            write_public(&files.ca_cert, &cert.pem())?;
            let _ = fs::remove_file(&files.names);
            (cert.pem(), key)
        }
    };
    let current = read(&files.names).ok();
    if current.as_deref() == Some(wanted.as_str()) && files.chain.exists() && files.key.exists() {
        return Ok(files);
    }
    // Signing needs the issuer as an rcgen certificate: the same DN and key
    // give the same issuer name and key identifier as the stored root.
    let issuer = root_params()?.self_signed(&ca_key)?;
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params(names)?.signed_by(&leaf_key, &issuer, &ca_key)?;
    write_private(&files.key, &leaf_key.serialize_pem())?;
    write_public(&files.chain, &format!("{}{}", leaf.pem(), ca_pem))?;
    write_public(&files.names, &wanted)?;
    Ok(files)
}

fn validity(params: &mut CertificateParams, years: i32) {
    let today = chrono::Utc::now().date_naive();
    let (year, month, day) = (today.year(), today.month() as u8, today.day().min(28) as u8);
    params.not_before = rcgen::date_time_ymd(year, month, day) - time_day();
    params.not_after = rcgen::date_time_ymd(year + years, month, day);
}

/// One day, so a client whose clock is a little behind still accepts it.
fn time_day() -> std::time::Duration {
    std::time::Duration::from_secs(24 * 3600)
}

fn root_params() -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, ROOT_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "scriptd");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, ROOT_YEARS);
    Ok(params)
}

fn leaf_params(names: &[String]) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::new(names.to_vec())?;
    let common = names.first().map_or("scriptd", String::as_str);
    params.distinguished_name.push(DnType::CommonName, common);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "scriptd");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, LEAF_YEARS);
    Ok(params)
}

fn read(path: &Path) -> Result<String, CertError> {
    fs::read_to_string(path).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write_public(path: &Path, text: &str) -> Result<(), CertError> {
    write_mode(path, text, 0o644)
}

/// Private keys are readable by the server's user only.
fn write_private(path: &Path, text: &str) -> Result<(), CertError> {
    write_mode(path, text, 0o600)
}

/// Written to a temp file and renamed, so a crash never leaves half a key.
fn write_mode(path: &Path, text: &str, mode: u32) -> Result<(), CertError> {
    let temp = path.with_extension("tmp");
    let fail = |source| CertError::Write {
        path: path.to_owned(),
        source,
    };
    let _ = fs::remove_file(&temp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&temp, path).map_err(fail)
}
