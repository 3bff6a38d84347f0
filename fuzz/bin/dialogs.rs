fn main() {
    afl::fuzz_nohook!(|data: &[u8]| switchboard_fuzz::files::dialogs(data));
}
