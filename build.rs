//! Compiles `proto/` without a system `protoc`: protox parses the files into a descriptor set,
//! which is written to `OUT_DIR` and fed to tonic's code generator. The set keeps the files'
//! comments and their `google.api.http` options: it is served by gRPC reflection, and the
//! HTTP/JSON edge reads its routes and the OpenAPI document from it (`api::http`).

use std::{env, fs, path::PathBuf};

const PROTOS: [&str; 2] = [
    "proto/registry_gateway/v1/gateway.proto",
    "proto/registry_gateway/v1/admin.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    // Encoded by protox itself: a `prost_types` round trip would drop the extension options.
    let descriptors = protox::Compiler::new(["proto"])?
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)?
        .encode_file_descriptor_set();
    let descriptor_path =
        PathBuf::from(env::var("OUT_DIR")?).join("registry_gateway_descriptor.bin");
    fs::write(&descriptor_path, descriptors)?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_protos(&PROTOS, &["proto"])?;
    Ok(())
}
