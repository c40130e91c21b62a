/*
 * Ending a Zephyr run with an exit status: under QEMU (-semihosting-config enable=on,target=native)
 * or a debugger, through Arm semihosting. Shared by examples/zephyr and the Zephyr tests' apps.
 */
#ifndef SEMIHOST_EXIT_H_
#define SEMIHOST_EXIT_H_

/* With CONFIG_SEMIHOST, ends the run: QEMU exits with `status`. Without it, returns. */
void semihost_exit(int status);

#endif /* SEMIHOST_EXIT_H_ */
