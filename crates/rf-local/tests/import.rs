//! `models import` with a real GGUF (SmolLM2, fetched by ./scripts/test.sh)
//! and damaged copies of it.

use std::path::PathBuf;

use rf_local::LocalCheck;
use rf_models::{Manifest, ModelKind, ModelStore, Origin, import::import};

fn smollm2() -> PathBuf {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh");
    let store = ModelStore::open(PathBuf::from(dir), Manifest::bundled().unwrap()).unwrap();
    let installed = store.installed("smollm2-135m-instruct-q4_1").expect("SmolLM2 is installed");
    installed.path("SmolLM2-135M-Instruct.Q4_1.gguf").unwrap().to_owned()
}

#[test]
fn a_gguf_is_imported_once_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::open(dir.path().join("models"), Manifest::bundled().unwrap()).unwrap();
    let source = dir.path().join("My SmolLM2.gguf");
    std::fs::copy(smollm2(), &source).unwrap();
    let spec = import(&store, &source, None, &LocalCheck).unwrap();
    assert_eq!((spec.id.as_str(), spec.kind, spec.architecture.as_str()), ("my-smollm2", ModelKind::Llm, "llama"));
    let listed = store.list().unwrap();
    let row = listed.iter().find(|m| m.id == "my-smollm2").unwrap();
    assert!(row.installed);
    assert_eq!(row.origin, Origin::Imported);
    // The same bytes under another id share the blob.
    import(&store, &source, Some("second"), &LocalCheck).unwrap();
    let blobs = std::fs::read_dir(dir.path().join("models/blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 1);
    assert!(source.exists(), "import copies, never moves");
    // Manifest ids are not taken over.
    let err = import(&store, &source, Some("all-minilm-l6-v2"), &LocalCheck).unwrap_err().to_string();
    assert!(err.contains("pass another with --id"), "{err}");
}

#[test]
fn damaged_and_unsupported_ggufs_are_refused_and_nothing_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::open(dir.path().join("models"), Manifest::bundled().unwrap()).unwrap();
    let bytes = std::fs::read(smollm2()).unwrap();

    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = import(&store, &truncated, None, &LocalCheck).unwrap_err().to_string();
    assert!(err.contains("truncated.gguf") && err.contains("truncated"), "{err}");

    let header_only = dir.path().join("header.gguf");
    std::fs::write(&header_only, &bytes[..64]).unwrap();
    let err = import(&store, &header_only, None, &LocalCheck).unwrap_err().to_string();
    assert!(err.contains("not a readable GGUF"), "{err}");

    // The same file claiming an architecture we do not run.
    let key = b"general.architecture";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap();
    let value = bytes[at..at + 64].windows(5).position(|w| w == b"llama").unwrap() + at;
    let mut other = bytes.clone();
    other[value..value + 5].copy_from_slice(b"mamba");
    let unsupported = dir.path().join("mamba.gguf");
    std::fs::write(&unsupported, &other).unwrap();
    let err = import(&store, &unsupported, None, &LocalCheck).unwrap_err().to_string();
    assert!(err.contains("\"mamba\" is not supported"), "{err}");

    assert!(store.list().unwrap().iter().all(|m| m.origin == Origin::Manifest), "nothing was imported");
    assert_eq!(std::fs::read_dir(dir.path().join("models/blobs/sha256")).unwrap().count(), 0);
}
