//! libFuzzer entry point; the check itself is `paywire_wire_fuzz::targets::parse_pacs008_summary`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paywire_wire_fuzz::targets::parse_pacs008_summary(data));
