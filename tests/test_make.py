"""Plain Make: `mlf-build generate` and `mlf-build runtime` write Make fragments that a hand
written Makefile includes; the result builds and runs."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import needs_host_cc, run_cli
from tests.firmware import run
from tests.mlf_factory import reweighted

MAKEFILE = """include gen/net/net.mk
include gen/mlf_runtime/mlf_runtime.mk

app: main.c $(NET_SOURCES) $(NET_OBJECTS) $(NET_PARAMS_BIN) $(MLF_RUNTIME_SOURCES)
\t$(CC) -O2 -Wall -Wextra -Werror $(NET_CFLAGS) $(NET_INCLUDES) $(MLF_RUNTIME_INCLUDES) -o $@ \\
\t  main.c $(NET_SOURCES) $(NET_OBJECTS) $(MLF_RUNTIME_SOURCES) -lm
"""
MAIN = """#include <stdio.h>
#include "net.h"
int main(void) {
  static float signal[NET_INPUT_SIGNAL_SIZE / 4], logits[4], probs[4];
  const void *in[NET_NUM_INPUTS] = {signal};
  void *out[NET_NUM_OUTPUTS] = {logits, probs};
  int32_t st = net_run(in, out);
  printf("%s %s %.6f\\n", mlf_strerror(st), net_output_info[1].name, (double)probs[0]);
  return st;
}
"""


@needs_host_cc
def test_generated_make_fragments_build_and_run(tmp_path: Path) -> None:
    model = Path(__file__).resolve().parents[1] / "examples" / "model" / "waveform.tar"
    assert run_cli(["generate", model, "--name", "net", "--out", tmp_path / "gen" / "net"]).code == 0
    r = run_cli(["runtime", "--out", tmp_path / "gen" / "mlf_runtime"])
    assert r.code == 0 and "mlf_runtime.mk" in r.out
    (tmp_path / "Makefile").write_text(MAKEFILE)
    (tmp_path / "main.c").write_text(MAIN)
    run(["make", "-C", tmp_path, "app"])
    out = run([tmp_path / "app"]).stdout.split()
    assert out[:2] == ["ok", "probs"] and 0.0 <= float(out[2]) <= 1.0
    assert "is up to date" in run(["make", "-C", tmp_path, "app"]).stdout
    # New weights change only net_params.bin, which the sources .incbin: Make must still rebuild.
    new = reweighted(model, tmp_path / "new.tar", 0.5)
    assert run_cli(["generate", new, "--name", "net", "--out", tmp_path / "gen" / "net"]).code == 0
    assert "is up to date" not in run(["make", "-C", tmp_path, "app"]).stdout
    assert run([tmp_path / "app"]).stdout.split()[2] != out[2]
