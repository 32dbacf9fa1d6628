//! Prepares the embedded browser-provider bundle (`assets/provider/`, built by
//! `provider-js/build.sh`): for each file a gzipped copy and the `ETag`s of both, written to
//! `OUT_DIR`, so the layer serves them without compressing or hashing anything at run time.

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

fn etag(bytes: &[u8], suffix: &str) -> String {
    format!("\"{}{suffix}\"", hex::encode(&Sha256::digest(bytes)[..12]))
}

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=assets/provider");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for entry in std::fs::read_dir(Path::new("assets/provider"))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        let plain = std::fs::read(&path)?;
        let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
        gzip.write_all(&plain)?;
        let gzipped = gzip.finish()?;
        std::fs::write(out.join(format!("{name}.gz")), &gzipped)?;
        std::fs::write(out.join(format!("{name}.etag")), etag(&plain, ""))?;
        std::fs::write(out.join(format!("{name}.gz.etag")), etag(&gzipped, "-gzip"))?;
    }
    Ok(())
}
