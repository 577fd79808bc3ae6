fn main() {
    broken_fixture_does_not_compile();
}
