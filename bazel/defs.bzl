"""Public load point of mlf_build's Bazel rules.

    load("@mlf_build//bazel:defs.bzl", "mlf_library", "MlfInfo", "mlf_binary_test", "mlf_qemu_support")

mlf_library      a TVM Model Library Format archive as a C library (bazel/mlf_library.bzl)
MlfInfo          the provider mlf_library returns besides CcInfo
mlf_binary_test  runs a cc_binary natively, or under qemu-system-arm on a Cortex-M platform
                 (bazel/qemu.bzl)
mlf_qemu_support QEMU firmware support (as @mlf_build//bazel/qemu:support) that places the listed
                 libraries' weights_section in FLASH and arena_section in RAM before the heap
                 (bazel/qemu.bzl)
mlf_c_prefix     the C prefix of the API of a library named so (mlf_c_prefix("Kws-1") == "kws_1")

Setup (WORKSPACE, Bazel 4.2.3+): bazel/repositories.bzl. Bazel 7+ with Bzlmod: MODULE.bazel.
"""

load(":mlf_library.bzl", _MlfInfo = "MlfInfo", _mlf_c_prefix = "mlf_c_prefix", _mlf_library = "mlf_library")
load(":qemu.bzl", _mlf_binary_test = "mlf_binary_test", _mlf_qemu_support = "mlf_qemu_support")

MlfInfo = _MlfInfo
mlf_binary_test = _mlf_binary_test
mlf_c_prefix = _mlf_c_prefix
mlf_library = _mlf_library
mlf_qemu_support = _mlf_qemu_support
