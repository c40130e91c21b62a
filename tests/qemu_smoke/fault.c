/* fault.c: firmware that faults on purpose (udf): startup.c must report it and exit 99, not hang.
 */
#include <stdio.h>

int main(void) {
  printf("mlf_qemu_fault: before trap\n");
  __builtin_trap();
  return 0;
}
