/* mlf_build's ABI probe: compiled by the target's C compiler (CMake's try_compile, Bazel's
 * //bazel:abi_probe), it tells the generator (--abi-probe) the target's architecture, ELF class
 * and float ABI, against which it checks the objects an MLF carries (TVM's llvm target). The
 * float argument makes the float ABI visible; main() lets try_compile link it where the toolchain
 * builds executables. */
int mlf_abi_probe(float x) {
  return (int)(x * 2.0f);
}
int main(void) {
  return mlf_abi_probe(0.0f);
}
