//! Compiles `proto/` without a system `protoc`: protox parses the files into a descriptor set,
//! which is written to `OUT_DIR` (served by gRPC reflection) and fed to tonic's code generator.

use std::{env, fs, path::PathBuf};

use protox::prost::Message as _;

const PROTOS: [&str; 2] = [
    "proto/registry_gateway/v1/gateway.proto",
    "proto/registry_gateway/v1/admin.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let descriptor_path =
        PathBuf::from(env::var("OUT_DIR")?).join("registry_gateway_descriptor.bin");
    fs::write(&descriptor_path, descriptors.encode_to_vec())?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_protos(&PROTOS, &["proto"])?;
    Ok(())
}
