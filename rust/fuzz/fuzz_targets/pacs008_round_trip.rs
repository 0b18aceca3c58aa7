//! libFuzzer entry point; the check itself is `paywire_wire_fuzz::targets::pacs008_round_trip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paywire_wire_fuzz::targets::pacs008_round_trip(data));
