/* Runs mlf_smoke.c's checks of the model and ends QEMU with their status. */
#include "semihost_exit.h"

int mlf_smoke_main(void);

int main(void) {
  int status = mlf_smoke_main();
  semihost_exit(status);
  return status;
}
